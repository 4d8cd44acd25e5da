"""mocktools."""
