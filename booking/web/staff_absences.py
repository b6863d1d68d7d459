"""The staff pages for counsellors' absences (to be filled)."""
