"""The trusted grading process: it computes every verdict; student code runs only in jobs."""
