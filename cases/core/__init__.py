"""The case machine: the moves every decision is built from (`moves`), the machine that opens a
case, applies actions and fires what falls due (`machine`) with the phase deadlines
(`deadlines`), the loop the workflow and what-if both drive (`loop`), and the side effects it
queues for the workflow to carry out (`effects`). Pure and deterministic."""
