"""The clinical content library: skills, psychoeducation cards and questionnaires (data in
content/), loaded and checked once per app, with per-program hide and add overrides."""
