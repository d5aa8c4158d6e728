"""Reference data every service may need: the Kemendagri region codes."""
