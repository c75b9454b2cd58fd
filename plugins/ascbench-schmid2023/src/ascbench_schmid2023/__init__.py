"""CP-Mobile (Schmid, Morocutti, Masoudian, Koutini, Widmer; CP-JKU), DCASE 2023 Task 1."""
