"""Running a compiled plan against the warehouse: scheduling, materializing, auditing, testing."""
