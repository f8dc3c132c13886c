"""The remote-party side: building, signing and MAC-ing commands; reading responses."""
