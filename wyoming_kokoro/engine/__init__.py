"""Engine: the Kokoro ONNX model and its voices. Knows nothing of Wyoming."""
