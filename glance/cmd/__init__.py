"""main() of every daemon and tool; the scripts in bin/ only call these."""
