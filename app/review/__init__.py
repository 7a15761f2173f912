"""The daily review loop: a sample of the day for people to label (Label Studio), their labels stored
beside the day's results, and how far each judge agrees with them."""
