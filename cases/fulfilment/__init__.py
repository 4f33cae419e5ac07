"""The physical legs of a resolution (STANDARDS S10, S11): a return on its way back and its
inspection, a repair visit or mail-in, and the proof the customer is sent.

`models` holds the legs as the case state carries them, `actions` the input models of the
warehouse, logistics and field-service updates, `policy` their windows and targets, and `legs` what
the case machine does as each leg moves.
"""
