"""The background processes over the Redis streams and the clock: the recorder, the voicemail worker, the SMS
sender, the scheduler. Thin: each reads its jobs and hands them to the domain."""
