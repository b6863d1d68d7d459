"""The admin pages for staff accounts (to be filled)."""
