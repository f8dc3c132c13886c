"""Transports carrying GBCS frames between remote parties and emulated devices."""
