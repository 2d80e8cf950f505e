// The researcher side lives here (issue 6).
