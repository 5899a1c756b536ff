"""Human review: labels people give images, checked against what the run's
scorers can say, kept with their history, and compared between reviewers."""
