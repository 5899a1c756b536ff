"""Does the model reproduce images it was trained on? Near-duplicates of a
run's images in a reference folder the user has (``near_duplicates.py``),
with match thresholds calibrated on transformed copies of the reference
images (``copies.py``), so a match comes with a measured detection rate and
false-match rate."""
