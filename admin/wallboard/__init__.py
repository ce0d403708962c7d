"""The supervisors' wallboard: every queue live, today's figures, and the actions a supervisor takes from it."""
