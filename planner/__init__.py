"""Edit planning: a Brief and analysis in, a validated EditPlan out."""
