"""Rules shared by the tablet and the server: plain Python, no Flask, no SQL session, no widgets."""
