"""Before release: the gate a CI pipeline runs on a finished run (``gate``)
and the Hugging Face model card written from one or more runs
(``model_card``). They read stats.json, run.json and the provenance and
memorization tables; neither computes a statistic those did not, except
intervals at the policy's level from counts they hold."""
