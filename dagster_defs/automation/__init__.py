"""Jobs, the hourly schedule, alert targets and sensors."""
