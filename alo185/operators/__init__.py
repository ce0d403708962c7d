"""Operators on SIP phones: their queue skills, what they dial (feature codes, pause reasons), their queue commands."""
