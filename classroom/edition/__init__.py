"""Building the student edition: the instructor's side, before the course is handed out."""
