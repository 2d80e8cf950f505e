// The personal-data and special-category scanner lives here (issue 4).
