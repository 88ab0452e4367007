"""The model: the candidates training chooses from (each one scikit-learn Pipeline), choosing
one by cross-validation with its decision threshold and the drift test's reference loss, the
calibration of its probabilities and the uncertainty of its coefficients (what the estimate
reads), and the one evaluation that scoring, the cycle, the report and the API use.

May import ``pipeline.core``, pandas, numpy and scikit-learn.
"""
