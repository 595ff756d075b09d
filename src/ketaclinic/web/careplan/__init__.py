"""Care plan per treatment course: goals with progress, planned activities with owners and due dates, the safety plan."""
