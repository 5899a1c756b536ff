"""Before release: the gate a CI pipeline runs on a finished run (``gate``)
and the Hugging Face model card written from one or more runs
(``model_card``). Both read stats.json and run.json only; neither computes a
statistic the stats stage did not, except intervals at the policy's level
from counts stats.json holds."""
