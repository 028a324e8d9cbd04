"""EditPlan → OTIO timeline, and OTIO timelines ↔ interchange files."""
