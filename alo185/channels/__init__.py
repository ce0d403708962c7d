"""Ways requests arrive besides the phone: each turns what it receives into tickets or notes."""
