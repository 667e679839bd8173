"""XTREME scoring with the behaviour of google-research/xtreme's evaluate.py: pure metric functions
(:mod:`repro.scoring.metrics`), readers of the prediction/label files (:mod:`repro.scoring.files`) and
the registry-driven folder scorer (:mod:`repro.scoring.xtreme`, command line ``python -m repro score``)."""
