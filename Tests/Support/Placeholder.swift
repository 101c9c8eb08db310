enum Placeholder_Support {}
