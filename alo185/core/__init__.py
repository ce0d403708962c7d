"""Infrastructure every feature and process shares: settings, the database, the Redis bus, AMI, phone numbers,
processes, the Asterisk and Redis servers, text to speech. It imports nothing of the domain."""
