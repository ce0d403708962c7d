"""The queues and their figures: names, service level, 15-minute intervals, Erlang models, the overflow prediction."""
