"""Pages for citizens, reached from a link in an SMS: no login, nothing but what the link is for."""
