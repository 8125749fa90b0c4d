"""acd: an Automatic Call Distributor for Asterisk."""
