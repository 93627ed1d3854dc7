// The vocoder's Snake activation, y = x + sin(a * x)^2 * r (or / d), as onnxruntime
// custom operators in domain "wyoming_kokoro" (engine/native.py builds and checks them):
// "Snake" (inputs x, a, r or d), and "AdaINSnake", the same with the end of the AdaIN
// before it, x = g * (c / s) + b (inputs c, s, g, b, a, r or d; c is the centred input,
// s its deviation, g and b the style's scale and offset, each one value per channel).
//
// Exact to the bit against the operators they replace (Div, Mul, Add; Mul, Sin, Mul,
// Mul or Div, Add):
// every product, quotient and sum is one IEEE operation in the same order (built with
// -ffp-contract=off, so none is fused into a multiply-add), and the sine is Eigen's
// packet sine, which is what onnxruntime's Sin kernel runs. The gain is one pass over
// memory instead of five, and the sine on every thread of onnxruntime's pool (its Sin
// kernel runs on one).
#define ORT_API_MANUAL_INIT
#include <onnxruntime_cxx_api.h>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace {

constexpr int64_t kChunk = 2048;  // steps of one row per task: the chunk stays in L1

struct Job {
  const float* x;       // Snake's input, or AdaINSnake's centred input c
  const float* deviation = nullptr;  // AdaINSnake: s, g, b (one per channel)
  const float* scale = nullptr;
  const float* offset = nullptr;
  const float* alpha;
  const float* weight;  // r (multiplied) or d (divided by), one per channel
  float* y;
  int64_t channels;     // of alpha; rows of x cycle through them
  int64_t steps;        // the last axis
  int64_t per_row;      // chunks per row
  int64_t scalar_from;  // onnxruntime's Sin leaves its last n % 4 values to std::sin
  bool divide;
};

void RunChunk(void* data, size_t task) {
  const Job& job = *static_cast<const Job*>(data);
  alignas(64) float t[kChunk + 16];
  const int64_t row = static_cast<int64_t>(task) / job.per_row;
  const int64_t start = (static_cast<int64_t>(task) % job.per_row) * kChunk;
  const int64_t length = std::min(kChunk, job.steps - start);
  const int64_t channel = row % job.channels;
  const float a = job.alpha[channel];
  const float w = job.weight[channel];
  const int64_t base = row * job.steps + start;
  float* out = job.y + base;
  const float* in = job.x + base;
  if (job.deviation != nullptr) {  // x = g * (c / s) + b, kept in out until the end
    const float s = job.deviation[channel], g = job.scale[channel], b = job.offset[channel];
    for (int64_t i = 0; i < length; i++) {
      const float normal = in[i] / s;
      const float scaled = g * normal;
      out[i] = scaled + b;
    }
    in = out;
  }
  for (int64_t i = 0; i < length; i++) t[i] = a * in[i];
  // Whole packets only: a lane's sine does not depend on its neighbours, so padding the
  // chunk keeps every value on the packet path, as onnxruntime computes all but the tail.
  const int64_t padded = (length + 15) & ~int64_t{15};
  for (int64_t i = length; i < padded; i++) t[i] = 0.0f;
  Eigen::Map<Eigen::ArrayXf, Eigen::Aligned64> packets(t, padded);
  packets = packets.sin();
  for (int64_t i = std::max<int64_t>(0, job.scalar_from - base); i < length; i++) {
    t[i] = std::sin(a * in[i]);
  }
  if (job.divide) {
    for (int64_t i = 0; i < length; i++) {
      const float square = t[i] * t[i];
      out[i] = in[i] + square / w;
    }
  } else {
    for (int64_t i = 0; i < length; i++) {
      const float square = t[i] * t[i];
      out[i] = in[i] + square * w;
    }
  }
}

template <bool kAdaIN>
struct SnakeKernel {
  SnakeKernel(const OrtApi&, const OrtKernelInfo* info) {
    divide_ = Ort::ConstKernelInfo(info).GetAttribute<int64_t>("divide") != 0;
  }

  void Compute(OrtKernelContext* raw) {
    Ort::KernelContext context(raw);
    constexpr size_t kFirst = kAdaIN ? 4 : 1;  // where a and r (or d) are
    Ort::ConstValue x = context.GetInput(0);
    Ort::ConstValue alpha = context.GetInput(kFirst);
    const std::vector<int64_t> shape = x.GetTensorTypeAndShapeInfo().GetShape();
    Ort::UnownedValue y = context.GetOutput(0, shape);
    int64_t count = 1;
    for (int64_t d : shape) count *= d;
    const int64_t channels = alpha.GetTensorTypeAndShapeInfo().GetElementCount();
    if (count == 0 || shape.empty()) return;
    const int64_t steps = shape.back();
    if (channels == 0 || (count / steps) % channels != 0) {
      ORT_CXX_API_THROW("Snake: alpha needs one value per channel", ORT_INVALID_ARGUMENT);
    }
    const float* per_channel[5] = {};
    for (size_t input = 1; input < kFirst + 2; input++) {
      if (input == kFirst) continue;
      Ort::ConstValue value = context.GetInput(input);
      if (value.GetTensorTypeAndShapeInfo().GetElementCount() != static_cast<size_t>(channels)) {
        ORT_CXX_API_THROW("Snake: every factor needs one value per channel", ORT_INVALID_ARGUMENT);
      }
      per_channel[input - 1] = value.GetTensorData<float>();
    }
    Job job{x.GetTensorData<float>()};
    if (kAdaIN) {
      job.deviation = per_channel[0];
      job.scale = per_channel[1];
      job.offset = per_channel[2];
    }
    job.alpha = alpha.GetTensorData<float>();
    job.weight = per_channel[kFirst];
    job.y = y.GetTensorMutableData<float>();
    job.channels = channels;
    job.steps = steps;
    job.per_row = (steps + kChunk - 1) / kChunk;
    job.scalar_from = count - count % 4;
    job.divide = divide_;
    context.ParallelFor(RunChunk, static_cast<size_t>((count / steps) * job.per_row), 0, &job);
  }

 private:
  bool divide_ = false;
};

template <bool kAdaIN>
struct SnakeOp : Ort::CustomOpBase<SnakeOp<kAdaIN>, SnakeKernel<kAdaIN>> {
  void* CreateKernel(const OrtApi& api, const OrtKernelInfo* info) const {
    return new SnakeKernel<kAdaIN>(api, info);
  }
  const char* GetName() const { return kAdaIN ? "AdaINSnake" : "Snake"; }
  size_t GetInputTypeCount() const { return kAdaIN ? 6 : 3; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

}  // namespace

extern "C" OrtStatus* ORT_API_CALL RegisterCustomOps(OrtSessionOptions* options,
                                                     const OrtApiBase* api_base) {
  // The newest API both this header and the running onnxruntime know (ParallelFor: 17).
  const OrtApi* api = nullptr;
  for (uint32_t version = ORT_API_VERSION; api == nullptr && version >= 17; version--) {
    api = api_base->GetApi(version);
  }
  if (api == nullptr) return nullptr;  // registers nothing: sessions using it fail to load
  Ort::InitApi(api);
  // onnxruntime keeps pointers to the operators and the domain: made once, never freed.
  static Ort::CustomOpDomain* domain = [] {
    auto* made = new Ort::CustomOpDomain("wyoming_kokoro");
    made->Add(new SnakeOp<false>());
    made->Add(new SnakeOp<true>());
    return made;
  }();
  try {
    Ort::UnownedSessionOptions(options).Add(*domain);
  } catch (const Ort::Exception& err) {
    return api->CreateStatus(ORT_FAIL, err.what());
  }
  return nullptr;
}
