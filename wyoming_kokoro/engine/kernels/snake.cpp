// The vocoder's elementwise chains as onnxruntime custom operators in domain
// "wyoming_kokoro" (engine/native.py builds and checks them):
// - "Snake", y = x + sin(a * x)^2 * r (or / d) (inputs x, a, r or d);
// - "AdaINSnake", the same with the end of the AdaIN before it, x = g * (c / s) + b
//   (inputs c, s, g, b, a, r or d; c is the centred input, s its deviation, g and b the
//   style's scale and offset, each one value per channel);
// - "CentredAdaINSnake", the same on c = x - m (inputs x, m, s, g, b, a, r or d);
// - "CentredVariance", the mean of (x - m)^2 over the last axis (inputs x, m), summed in
//   the order of onnxruntime's ReduceMean (Eigen's sum with SSE packets);
// - "ConvEpilogue", the end of an int8 convolution after its matrix product,
//   ((p + bias) * scale) for the product p's first columns (all but "drop"), with
//   "ConvEpilogueAdd" adding a residual r too (inputs p, bias, scale[, r]);
// - "PaddedInt8", a quantized convolution input (uint8, 1 x channels x steps) moved to
//   int8 (q - 128, as BitwiseXor with 0x80 and Cast do) without its batch axis and padded
//   with the int8 zero point (inputs q, zero; attributes before, after, and repeats and
//   tail: each padded row written "repeats" times, then "tail" zeros, as engine/int8.py's
//   Concat of the padded rows lays out a stride-1 convolution's columns);
// - "TimeColumns", a quantized convolution input (uint8, 1 x channels x steps) padded with
//   its zero point and laid out as a stride-1 convolution's columns, one row per output
//   step (attributes before, after, taps, dilation), for a product columns x weights;
// - "TransposedEpilogue" / "TransposedEpilogueAdd", ConvEpilogue[Add] on such a product
//   (steps x rows), written rows x steps;
// - "BluesteinSTFT", ONNX's STFT of a real signal with a window whose length is not a power
//   of two, as onnxruntime computes it (Bluestein's chirp-z over radix-2 FFTs, the same
//   complex products and sums in the same order), eight frames at once on every thread.
//
// Each is exact to the bit against the operators it replaces: every product, quotient
// and sum is one IEEE operation in the same order (built with -ffp-contract=off, so none
// is fused into a multiply-add), the sine is Eigen's packet sine, which is what
// onnxruntime's Sin kernel runs, and sums over a row follow its reduction's order. The
// gain is one pass over memory for each chain of three to eight operators, and the work
// on every thread of onnxruntime's pool where its kernels run on one (Sin, STFT).
#define ORT_API_MANUAL_INIT
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wignored-attributes"  // Eigen's packets as template arguments
#endif
#include <onnxruntime_cxx_api.h>

#include <Eigen/Core>

#include <algorithm>
#include <complex>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace {

constexpr int64_t kChunk = 2048;  // steps of one row per task: the chunk stays in L1
constexpr int64_t kRowBlock = 64;  // steps per task where a task does every row

struct Job {
  const float* x;       // Snake's input, AdaINSnake's centred input c, or x to centre
  const float* centre = nullptr;     // CentredAdaINSnake: m (one per channel)
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
    if (job.centre != nullptr) {
      const float m = job.centre[channel];
      for (int64_t i = 0; i < length; i++) {
        const float centred = in[i] - m;
        const float normal = centred / s;
        const float scaled = g * normal;
        out[i] = scaled + b;
      }
    } else {
      for (int64_t i = 0; i < length; i++) {
        const float normal = in[i] / s;
        const float scaled = g * normal;
        out[i] = scaled + b;
      }
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

// kFactors: the per-channel inputs before a: none (Snake), s g b (AdaINSnake), m s g b
// (CentredAdaINSnake).
template <int kFactors>
struct SnakeKernel {
  SnakeKernel(const OrtApi&, const OrtKernelInfo* info) {
    divide_ = Ort::ConstKernelInfo(info).GetAttribute<int64_t>("divide") != 0;
  }

  void Compute(OrtKernelContext* raw) {
    Ort::KernelContext context(raw);
    constexpr size_t kFirst = kFactors + 1;  // where a and r (or d) are
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
    const float* per_channel[kFirst + 1] = {};
    for (size_t input = 1; input < kFirst + 2; input++) {
      if (input == kFirst) continue;
      Ort::ConstValue value = context.GetInput(input);
      if (value.GetTensorTypeAndShapeInfo().GetElementCount() != static_cast<size_t>(channels)) {
        ORT_CXX_API_THROW("Snake: every factor needs one value per channel", ORT_INVALID_ARGUMENT);
      }
      per_channel[input - 1] = value.GetTensorData<float>();
    }
    Job job{x.GetTensorData<float>()};
    if constexpr (kFactors > 0) {
      const float* const* adain = per_channel + (kFactors - 3);
      job.centre = kFactors == 4 ? per_channel[0] : nullptr;
      job.deviation = adain[0];
      job.scale = adain[1];
      job.offset = adain[2];
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

template <int kFactors>
struct SnakeOp : Ort::CustomOpBase<SnakeOp<kFactors>, SnakeKernel<kFactors>> {
  void* CreateKernel(const OrtApi& api, const OrtKernelInfo* info) const {
    return new SnakeKernel<kFactors>(api, info);
  }
  const char* GetName() const {
    return kFactors == 4 ? "CentredAdaINSnake" : kFactors == 3 ? "AdaINSnake" : "Snake";
  }
  size_t GetInputTypeCount() const { return kFactors + 3; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

// The sum of (x[i] - m)^2 over one row in the order of onnxruntime's ReduceMean on the
// squares: Eigen's sum() of an unaligned map with 4-float (SSE) packets, two partial
// packets over the aligned middle, reduced as (p0 + p2) + (p1 + p3), then the values
// before the first aligned one, then those after the last whole packet. The squares are
// onnxruntime's own tensor, whose start is aligned (64 bytes), so a row starts
// (row * n) % 4 floats past an aligned address.
float SquaresSum(const float* x, float m, int64_t n, int64_t aligned_start) {
  auto square = [x, m](int64_t i) {
    const float centred = x[i] - m;
    return centred * centred;
  };
  const int64_t start = std::min(aligned_start, n);
  const int64_t size2 = ((n - start) / 8) * 8;
  const int64_t size1 = ((n - start) / 4) * 4;
  const int64_t end2 = start + size2;
  const int64_t end1 = start + size1;
  float res;
  if (size1 > 0) {
    float lanes[8];  // packet 0 in lanes 0-3, packet 1 in 4-7
    for (int l = 0; l < 4; l++) lanes[l] = square(start + l);
    if (size1 > 4) {
      for (int l = 4; l < 8; l++) lanes[l] = square(start + l);
      for (int64_t i = start + 8; i < end2; i += 8) {
        for (int l = 0; l < 8; l++) {
          const float centred = x[i + l] - m;
          const float sq = centred * centred;
          lanes[l] = lanes[l] + sq;
        }
      }
      for (int l = 0; l < 4; l++) lanes[l] = lanes[l] + lanes[l + 4];
      if (end1 > end2) {
        for (int l = 0; l < 4; l++) lanes[l] = lanes[l] + square(end2 + l);
      }
    }
    const float low = lanes[0] + lanes[2];
    const float high = lanes[1] + lanes[3];
    res = low + high;
    for (int64_t i = 0; i < start; i++) res = res + square(i);
    for (int64_t i = end1; i < n; i++) res = res + square(i);
  } else {
    res = square(0);
    for (int64_t i = 1; i < n; i++) res = res + square(i);
  }
  return res;
}

struct VarianceJob {
  const float* x;
  const float* centre;
  float* y;
  int64_t channels;
  int64_t steps;
};

void RunVariance(void* data, size_t task) {
  const VarianceJob& job = *static_cast<const VarianceJob*>(data);
  const int64_t row = static_cast<int64_t>(task);
  const int64_t offset = (row * job.steps) % 4;
  const float sum =
      SquaresSum(job.x + row * job.steps, job.centre[row % job.channels], job.steps, (4 - offset) % 4);
  job.y[row] = sum / static_cast<float>(job.steps);
}

struct VarianceKernel {
  VarianceKernel(const OrtApi&, const OrtKernelInfo*) {}

  void Compute(OrtKernelContext* raw) {
    Ort::KernelContext context(raw);
    Ort::ConstValue x = context.GetInput(0);
    Ort::ConstValue centre = context.GetInput(1);
    std::vector<int64_t> shape = x.GetTensorTypeAndShapeInfo().GetShape();
    if (shape.size() != 3 || shape.back() == 0) {  // the rewrite's ReduceMean: axis 2 or -1
      ORT_CXX_API_THROW("CentredVariance: x needs 3 axes, values on the last", ORT_INVALID_ARGUMENT);
    }
    const int64_t steps = shape.back();
    shape.back() = 1;
    Ort::UnownedValue y = context.GetOutput(0, shape);
    int64_t rows = 1;
    for (size_t d = 0; d + 1 < shape.size(); d++) rows *= shape[d];
    const int64_t channels = centre.GetTensorTypeAndShapeInfo().GetElementCount();
    if (rows == 0) return;
    if (channels == 0 || rows % channels != 0) {
      ORT_CXX_API_THROW("CentredVariance: m needs one value per channel", ORT_INVALID_ARGUMENT);
    }
    VarianceJob job{x.GetTensorData<float>(), centre.GetTensorData<float>(),
                    y.GetTensorMutableData<float>(), channels, steps};
    context.ParallelFor(RunVariance, static_cast<size_t>(rows), 0, &job);
  }
};

struct VarianceOp : Ort::CustomOpBase<VarianceOp, VarianceKernel> {
  void* CreateKernel(const OrtApi& api, const OrtKernelInfo* info) const {
    return new VarianceKernel(api, info);
  }
  const char* GetName() const { return "CentredVariance"; }
  size_t GetInputTypeCount() const { return 2; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

struct EpilogueJob {
  const float* product;  // rows x width
  const float* bias;     // one per row
  float scale;
  const float* residual;  // rows x steps, or none
  float* y;               // rows x steps
  int64_t width;
  int64_t steps;
  int64_t per_row;
};

void RunEpilogue(void* data, size_t task) {
  const EpilogueJob& job = *static_cast<const EpilogueJob*>(data);
  const int64_t row = static_cast<int64_t>(task) / job.per_row;
  const int64_t start = (static_cast<int64_t>(task) % job.per_row) * kChunk;
  const int64_t length = std::min(kChunk, job.steps - start);
  const float* in = job.product + row * job.width + start;
  float* out = job.y + row * job.steps + start;
  const float bias = job.bias[row], scale = job.scale;
  if (job.residual != nullptr) {
    const float* r = job.residual + row * job.steps + start;
    for (int64_t i = 0; i < length; i++) {
      const float biased = in[i] + bias;
      const float scaled = biased * scale;
      out[i] = scaled + r[i];
    }
  } else {
    for (int64_t i = 0; i < length; i++) {
      const float biased = in[i] + bias;
      out[i] = biased * scale;
    }
  }
}

// The same on a product of columns x weights (steps x rows, engine/native.py's
// rewrite_time_major), written rows x steps: a block of steps per task, each row's
// values of the block read down the product's columns.
void RunEpilogueT(void* data, size_t task) {
  using Packet = Eigen::internal::packet_traits<float>::type;
  constexpr int64_t kLanes = Eigen::internal::unpacket_traits<Packet>::size;
  const EpilogueJob& job = *static_cast<const EpilogueJob*>(data);
  const int64_t from = static_cast<int64_t>(task) * kRowBlock;
  const int64_t length = std::min(kRowBlock, job.steps - from);
  const int64_t rows = job.width;  // the product's row length: one value per output row
  const float* in = job.product + from * rows;
  const float scale = job.scale;
  const Packet scales = Eigen::internal::pset1<Packet>(scale);
  auto one = [&](int64_t row, int64_t i) {
    const float biased = in[i * rows + row] + job.bias[row];
    const float scaled = biased * scale;
    const int64_t at = row * job.steps + from + i;
    job.y[at] = job.residual != nullptr ? scaled + job.residual[at] : scaled;
  };
  const int64_t whole_rows = rows - rows % kLanes, whole_steps = length - length % kLanes;
  for (int64_t row = 0; row < whole_rows; row += kLanes) {
    for (int64_t i = 0; i < whole_steps; i += kLanes) {
      Eigen::internal::PacketBlock<Packet, kLanes> block;
      for (int64_t k = 0; k < kLanes; k++) {
        block.packet[k] = Eigen::internal::ploadu<Packet>(in + (i + k) * rows + row);
      }
      Eigen::internal::ptranspose(block);  // now packet k: row + k at steps i ...
      for (int64_t k = 0; k < kLanes; k++) {
        const Packet bias = Eigen::internal::pset1<Packet>(job.bias[row + k]);
        Packet value = Eigen::internal::pmul(Eigen::internal::padd(block.packet[k], bias), scales);
        const int64_t at = (row + k) * job.steps + from + i;
        if (job.residual != nullptr) {
          value = Eigen::internal::padd(value, Eigen::internal::ploadu<Packet>(job.residual + at));
        }
        Eigen::internal::pstoreu(job.y + at, value);
      }
    }
    for (int64_t k = 0; k < kLanes; k++) {
      for (int64_t i = whole_steps; i < length; i++) one(row + k, i);
    }
  }
  for (int64_t row = whole_rows; row < rows; row++) {
    for (int64_t i = 0; i < length; i++) one(row, i);
  }
}

// kTransposed: the product is steps x rows ("TransposedEpilogue"), else rows x steps.
template <bool kResidual, bool kTransposed>
struct EpilogueKernel {
  EpilogueKernel(const OrtApi&, const OrtKernelInfo* info) {
    drop_ = Ort::ConstKernelInfo(info).GetAttribute<int64_t>("drop");
  }

  void Compute(OrtKernelContext* raw) {
    Ort::KernelContext context(raw);
    Ort::ConstValue product = context.GetInput(0);
    Ort::ConstValue bias = context.GetInput(1);
    Ort::ConstValue scale = context.GetInput(2);
    const std::vector<int64_t> shape = product.GetTensorTypeAndShapeInfo().GetShape();
    const size_t time_axis = kTransposed ? 0 : 1;
    if (shape.size() != 2 || drop_ < 0 || shape[time_axis] < drop_) {
      ORT_CXX_API_THROW("ConvEpilogue: the product needs rows x (steps + drop)", ORT_INVALID_ARGUMENT);
    }
    const int64_t rows = shape[1 - time_axis], steps = shape[time_axis] - drop_;
    const std::vector<int64_t> bias_shape = bias.GetTensorTypeAndShapeInfo().GetShape();
    const bool per_row = bias_shape.size() >= 2 && bias_shape.back() == 1;  // (.., rows, 1)
    if (bias.GetTensorTypeAndShapeInfo().GetElementCount() != static_cast<size_t>(rows) ||
        !(per_row || rows == 1) || scale.GetTensorTypeAndShapeInfo().GetElementCount() != 1) {
      ORT_CXX_API_THROW("ConvEpilogue: one bias per row and one scale", ORT_INVALID_ARGUMENT);
    }
    Ort::UnownedValue y = context.GetOutput(0, std::vector<int64_t>{1, rows, steps});
    // width: a product row's length (rows x width, or steps x width with width = rows).
    EpilogueJob job{product.GetTensorData<float>(), bias.GetTensorData<float>(),
                    scale.GetTensorData<float>()[0], nullptr, y.GetTensorMutableData<float>(),
                    shape[1], steps, (steps + kChunk - 1) / kChunk};
    if constexpr (kResidual) {
      Ort::ConstValue residual = context.GetInput(3);
      if (residual.GetTensorTypeAndShapeInfo().GetShape() != std::vector<int64_t>{1, rows, steps}) {
        ORT_CXX_API_THROW("ConvEpilogueAdd: the residual needs the output's shape", ORT_INVALID_ARGUMENT);
      }
      job.residual = residual.GetTensorData<float>();
    }
    if (rows == 0 || steps == 0) return;
    if constexpr (kTransposed) {
      context.ParallelFor(RunEpilogueT, static_cast<size_t>((steps + kRowBlock - 1) / kRowBlock), 0, &job);
    } else {
      context.ParallelFor(RunEpilogue, static_cast<size_t>(rows * job.per_row), 0, &job);
    }
  }

 private:
  int64_t drop_ = 0;
};

template <bool kResidual, bool kTransposed>
struct EpilogueOp
    : Ort::CustomOpBase<EpilogueOp<kResidual, kTransposed>, EpilogueKernel<kResidual, kTransposed>> {
  void* CreateKernel(const OrtApi& api, const OrtKernelInfo* info) const {
    return new EpilogueKernel<kResidual, kTransposed>(api, info);
  }
  const char* GetName() const {
    if constexpr (kTransposed) return kResidual ? "TransposedEpilogueAdd" : "TransposedEpilogue";
    return kResidual ? "ConvEpilogueAdd" : "ConvEpilogue";
  }
  size_t GetInputTypeCount() const { return kResidual ? 4 : 3; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

struct PadJob {
  const uint8_t* x;
  int8_t* y;
  int8_t zero;
  int64_t steps, before, after, repeats, tail;
};

void RunPad(void* data, size_t task) {
  const PadJob& job = *static_cast<const PadJob*>(data);
  const int64_t row = static_cast<int64_t>(task);
  const int64_t width = job.before + job.steps + job.after;
  const uint8_t* in = job.x + row * job.steps;
  int8_t* first = job.y + row * (width * job.repeats + job.tail);
  int8_t* out = first;
  for (int64_t i = 0; i < job.before; i++) out[i] = job.zero;
  out += job.before;
  for (int64_t i = 0; i < job.steps; i++) out[i] = static_cast<int8_t>(in[i] ^ 0x80u);
  for (int64_t i = 0; i < job.after; i++) out[job.steps + i] = job.zero;
  for (int64_t r = 1; r < job.repeats; r++) std::memcpy(first + r * width, first, width);
  std::memset(first + job.repeats * width, 0, static_cast<size_t>(job.tail));
}

struct PadKernel {
  PadKernel(const OrtApi&, const OrtKernelInfo* info) {
    Ort::ConstKernelInfo attributes(info);
    before_ = attributes.GetAttribute<int64_t>("before");
    after_ = attributes.GetAttribute<int64_t>("after");
    repeats_ = attributes.GetAttribute<int64_t>("repeats");
    tail_ = attributes.GetAttribute<int64_t>("tail");
  }

  void Compute(OrtKernelContext* raw) {
    Ort::KernelContext context(raw);
    Ort::ConstValue x = context.GetInput(0);
    Ort::ConstValue zero = context.GetInput(1);
    const std::vector<int64_t> shape = x.GetTensorTypeAndShapeInfo().GetShape();
    if (shape.size() != 3 || shape[0] != 1 || before_ < 0 || after_ < 0 || repeats_ < 1 ||
        tail_ < 0 || zero.GetTensorTypeAndShapeInfo().GetElementCount() != 1) {
      ORT_CXX_API_THROW("PaddedInt8: needs 1 x channels x steps and one zero point", ORT_INVALID_ARGUMENT);
    }
    const int64_t rows = shape[1], steps = shape[2];
    const int64_t width = (before_ + steps + after_) * repeats_ + tail_;
    Ort::UnownedValue y = context.GetOutput(0, std::vector<int64_t>{rows, width});
    PadJob job{x.GetTensorData<uint8_t>(), y.GetTensorMutableData<int8_t>(),
               zero.GetTensorData<int8_t>()[0], steps, before_, after_, repeats_, tail_};
    if (rows > 0) context.ParallelFor(RunPad, static_cast<size_t>(rows), 0, &job);
  }

 private:
  int64_t before_ = 0, after_ = 0, repeats_ = 1, tail_ = 0;
};

struct PadOp : Ort::CustomOpBase<PadOp, PadKernel> {
  void* CreateKernel(const OrtApi& api, const OrtKernelInfo* info) const {
    return new PadKernel(api, info);
  }
  const char* GetName() const { return "PaddedInt8"; }
  size_t GetInputTypeCount() const { return 2; }
  ONNXTensorElementDataType GetInputType(size_t index) const {
    return index == 0 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8 : ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8;
  }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8; }
};

// TimeColumns: a quantized convolution input (uint8, 1 x channels x steps) padded with
// its zero point and laid out time by time as a stride-1 convolution's columns, one row
// per output step: row t holds the padded input at t, t + d, ..., t + (taps - 1) d, each
// all channels, so that the product is columns x weights (uint8 x int8, the weights
// constant: onnxruntime packs them once). First the padded input is transposed (steps x
// channels), then each row is copied together from it, tap by tap.
struct ColumnsJob {
  const uint8_t* x;  // channels x steps
  uint8_t* padded;   // (before + steps + after) x channels
  uint8_t* y;        // rows x (taps * channels)
  uint8_t zero;
  int64_t channels, steps, before, after, taps, dilation, width, rows;
};

// 16 x 16 bytes: out row k = column k of the 16 rows at in (rows in_stride apart).
void Transpose16(const uint8_t* in, int64_t in_stride, uint8_t* out, int64_t out_stride) {
#if defined(__SSE2__)
  __m128i a[16], b[16];
  for (int k = 0; k < 16; k++) {
    a[k] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + k * in_stride));
  }
  for (int k = 0; k < 8; k++) {  // bytes of rows 2k, 2k + 1 interleaved
    b[2 * k] = _mm_unpacklo_epi8(a[2 * k], a[2 * k + 1]);
    b[2 * k + 1] = _mm_unpackhi_epi8(a[2 * k], a[2 * k + 1]);
  }
  for (int g = 0; g < 4; g++) {  // rows 4g .. 4g + 3: columns 0-3, 4-7, 8-11, 12-15
    a[4 * g] = _mm_unpacklo_epi16(b[4 * g], b[4 * g + 2]);
    a[4 * g + 1] = _mm_unpackhi_epi16(b[4 * g], b[4 * g + 2]);
    a[4 * g + 2] = _mm_unpacklo_epi16(b[4 * g + 1], b[4 * g + 3]);
    a[4 * g + 3] = _mm_unpackhi_epi16(b[4 * g + 1], b[4 * g + 3]);
  }
  for (int h = 0; h < 2; h++) {  // rows 8h .. 8h + 7: two columns in each
    for (int q = 0; q < 4; q++) {
      b[8 * h + 2 * q] = _mm_unpacklo_epi32(a[8 * h + q], a[8 * h + 4 + q]);
      b[8 * h + 2 * q + 1] = _mm_unpackhi_epi32(a[8 * h + q], a[8 * h + 4 + q]);
    }
  }
  for (int k = 0; k < 8; k++) {  // all 16 rows: one column each
    const __m128i low = _mm_unpacklo_epi64(b[k], b[8 + k]);
    const __m128i high = _mm_unpackhi_epi64(b[k], b[8 + k]);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (2 * k) * out_stride), low);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (2 * k + 1) * out_stride), high);
  }
#else
  for (int r = 0; r < 16; r++) {
    for (int c = 0; c < 16; c++) out[c * out_stride + r] = in[r * in_stride + c];
  }
#endif
}

void RunTranspose(void* data, size_t task) {
  const ColumnsJob& job = *static_cast<const ColumnsJob*>(data);
  const int64_t from = static_cast<int64_t>(task) * kRowBlock;
  const int64_t to = std::min(from + kRowBlock, job.width);
  const int64_t c = job.channels;
  const int64_t inside_from = std::max(from, job.before);
  const int64_t inside_to = std::max(inside_from, std::min(to, job.before + job.steps));
  for (int64_t s = from; s < inside_from; s++) {
    std::memset(job.padded + s * c, job.zero, static_cast<size_t>(c));
  }
  for (int64_t s = inside_to; s < to; s++) {
    std::memset(job.padded + s * c, job.zero, static_cast<size_t>(c));
  }
  const int64_t whole_channels = c - c % 16;
  const int64_t whole_to = inside_from + (inside_to - inside_from) / 16 * 16;
  // Padded step s holds the input's step s - before.
  for (int64_t ch = 0; ch < whole_channels; ch += 16) {
    const uint8_t* in = job.x + ch * job.steps;
    for (int64_t s = inside_from; s < whole_to; s += 16) {
      Transpose16(in + (s - job.before), job.steps, job.padded + s * c + ch, c);
    }
    for (int64_t k = 0; k < 16; k++) {
      for (int64_t s = whole_to; s < inside_to; s++) {
        job.padded[s * c + ch + k] = in[k * job.steps + (s - job.before)];
      }
    }
  }
  for (int64_t ch = whole_channels; ch < c; ch++) {
    const uint8_t* in = job.x + ch * job.steps;
    for (int64_t s = inside_from; s < inside_to; s++) job.padded[s * c + ch] = in[s - job.before];
  }
}

void RunColumns(void* data, size_t task) {
  const ColumnsJob& job = *static_cast<const ColumnsJob*>(data);
  const int64_t from = static_cast<int64_t>(task) * kRowBlock;
  const int64_t to = std::min(from + kRowBlock, job.rows);
  const int64_t c = job.channels, row = job.taps * c;
  for (int64_t t = from; t < to; t++) {
    uint8_t* out = job.y + t * row;
    for (int64_t j = 0; j < job.taps; j++) {
      std::memcpy(out + j * c, job.padded + (t + j * job.dilation) * c, static_cast<size_t>(c));
    }
  }
}

struct ColumnsKernel {
  ColumnsKernel(const OrtApi&, const OrtKernelInfo* info) {
    Ort::ConstKernelInfo attributes(info);
    before_ = attributes.GetAttribute<int64_t>("before");
    after_ = attributes.GetAttribute<int64_t>("after");
    taps_ = attributes.GetAttribute<int64_t>("taps");
    dilation_ = attributes.GetAttribute<int64_t>("dilation");
  }

  void Compute(OrtKernelContext* raw) {
    Ort::KernelContext context(raw);
    Ort::ConstValue x = context.GetInput(0);
    Ort::ConstValue zero = context.GetInput(1);
    const std::vector<int64_t> shape = x.GetTensorTypeAndShapeInfo().GetShape();
    if (shape.size() != 3 || shape[0] != 1 || before_ < 0 || after_ < 0 || taps_ < 1 ||
        dilation_ < 1 || zero.GetTensorTypeAndShapeInfo().GetElementCount() != 1) {
      ORT_CXX_API_THROW("TimeColumns: needs 1 x channels x steps and one zero point", ORT_INVALID_ARGUMENT);
    }
    const int64_t channels = shape[1], steps = shape[2];
    const int64_t width = before_ + steps + after_;
    const int64_t rows = std::max<int64_t>(0, width - (taps_ - 1) * dilation_);
    Ort::UnownedValue y = context.GetOutput(0, std::vector<int64_t>{rows, taps_ * channels});
    if (rows == 0 || channels == 0) return;
    uint8_t* out = y.GetTensorMutableData<uint8_t>();
    // One tap: the padded input is the columns. Else a scratch copy, left uninitialized.
    std::unique_ptr<uint8_t[]> scratch(taps_ > 1 ? new uint8_t[width * channels] : nullptr);
    ColumnsJob job{x.GetTensorData<uint8_t>(), taps_ > 1 ? scratch.get() : out, out,
                   zero.GetTensorData<uint8_t>()[0], channels, steps, before_, after_, taps_,
                   dilation_, width, rows};
    context.ParallelFor(RunTranspose, static_cast<size_t>((width + kRowBlock - 1) / kRowBlock), 0, &job);
    if (taps_ > 1) {
      context.ParallelFor(RunColumns, static_cast<size_t>((rows + kRowBlock - 1) / kRowBlock), 0, &job);
    }
  }

 private:
  int64_t before_ = 0, after_ = 0, taps_ = 1, dilation_ = 1;
};

struct ColumnsOp : Ort::CustomOpBase<ColumnsOp, ColumnsKernel> {
  void* CreateKernel(const OrtApi& api, const OrtKernelInfo* info) const {
    return new ColumnsKernel(api, info);
  }
  const char* GetName() const { return "TimeColumns"; }
  size_t GetInputTypeCount() const { return 2; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8; }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8; }
};

// BluesteinSTFT. Each frame's DFT of length n (not a power of two) is onnxruntime's: the
// frame times the window times a chirp, padded to m = the power of two >= 2n - 1,
// transformed, multiplied by the transformed conjugate chirp, transformed back with the
// forward twiddles (so the result comes out reversed) and divided by m, then times the
// chirp. Every complex product is (ac - bd, ad + bc), as the compiler's complex
// multiplication gives for finite values, and each step is kept literally (x * (1, 0)
// included), so the floats are onnxruntime's to the bit.
constexpr int kLanes = 8;  // frames computed together, one per vector lane
constexpr size_t kMaxTransform = 256;  // windows of up to 128 points (engine/native.py)

struct Complex8 {
  float re[kLanes], im[kLanes];
};

size_t BitReverse(size_t value, unsigned bits) {
  size_t reversed = 0;
  for (unsigned b = 0; b < bits; b++) reversed |= ((value >> b) & 1u) << (bits - 1 - b);
  return reversed;
}

struct StftPlan {
  size_t n = 0, m = 0, bins = 0;
  unsigned bits = 0;
  std::vector<std::complex<float>> twiddle;  // onnxruntime's V, in its order
  std::vector<std::complex<float>> chirp;    // n values
  std::vector<std::complex<float>> spectrum;  // the conjugate chirp, transformed (m)
  std::vector<float> window;
};

// onnxruntime's fft_radix2 on one complex vector (the plan's twiddles), for the chirp.
void Radix2(const StftPlan& plan, const std::vector<std::complex<float>>& x,
            std::vector<std::complex<float>>& y) {
  const size_t m = plan.m;
  for (size_t i = 0; i < m; i++) {
    const std::complex<float> value = x[BitReverse(i, plan.bits)];
    const std::complex<float> one(1, 0);
    y[i] = one * value * one;
  }
  unsigned bits = 0;
  for (size_t size = 2; size <= m; size <<= 1) {
    const size_t mid = size >> 1;
    bits++;
    for (size_t k = 0; k < mid; k++) {
      const size_t first = BitReverse(k, bits), second = BitReverse(mid + k, bits);
      for (size_t j = 0; j < m; j += size) {
        std::complex<float>& even = y[k + j];
        std::complex<float>& odd = y[k + j + mid];
        const std::complex<float> a = even + plan.twiddle[first] * odd;
        const std::complex<float> b = even + plan.twiddle[second] * odd;
        even = a;
        odd = b;
      }
    }
  }
}

StftPlan MakePlan(size_t n, const float* window) {
  StftPlan plan;
  plan.n = n;
  plan.m = 1;
  while (plan.m < 2 * n - 1) plan.m <<= 1;
  while ((size_t{1} << plan.bits) < plan.m) plan.bits++;
  plan.bins = (n >> 1) + 1;
  plan.window.assign(window, window + n);
  constexpr float pi = static_cast<float>(M_PI);
  constexpr float tau = 2 * pi;
  const float angular = -1.f * tau / static_cast<float>(plan.m);
  plan.twiddle.resize(plan.m);
  for (size_t i = 0; i < plan.m; i++) {
    const float angle = static_cast<float>(i) * angular;
    plan.twiddle[BitReverse(i, plan.bits)] = std::complex<float>(std::cos(angle), std::sin(angle));
  }
  plan.chirp.resize(n);
  std::vector<std::complex<float>> conjugate(plan.m);
  const float direction = -1.f;
  for (size_t k = 0; k < n; k++) {
    const float exponent = direction * pi * static_cast<float>(k) * static_cast<float>(k) /
                           static_cast<float>(n);
    plan.chirp[k] = std::complex<float>(std::cos(exponent), std::sin(exponent));
    conjugate[k] = std::conj(plan.chirp[k]);
  }
  for (size_t k = plan.m - n + 1; k < plan.m; k++) conjugate[k] = conjugate[plan.m - k];
  plan.spectrum.resize(plan.m);
  Radix2(plan, conjugate, plan.spectrum);
  return plan;
}

inline void Multiply(float ar, float ai, float br, float bi, float& re, float& im) {
  const float ac = ar * br, bd = ai * bi, ad = ar * bi, bc = ai * br;
  re = ac - bd;
  im = ad + bc;
}

// onnxruntime's fft_radix2 of x into y, on kLanes vectors at once; inverse: divided by m.
void Radix2Lanes(const StftPlan& plan, const Complex8* x, Complex8* y, bool inverse) {
  const size_t m = plan.m;
  for (size_t i = 0; i < m; i++) {
    const Complex8& value = x[BitReverse(i, plan.bits)];
    for (int l = 0; l < kLanes; l++) {
      float re, im, re2, im2;
      Multiply(1.f, 0.f, value.re[l], value.im[l], re, im);
      Multiply(re, im, 1.f, 0.f, re2, im2);
      y[i].re[l] = re2;
      y[i].im[l] = im2;
    }
  }
  unsigned bits = 0;
  for (size_t size = 2; size <= m; size <<= 1) {
    const size_t mid = size >> 1;
    bits++;
    for (size_t k = 0; k < mid; k++) {
      const std::complex<float> first = plan.twiddle[BitReverse(k, bits)];
      const std::complex<float> second = plan.twiddle[BitReverse(mid + k, bits)];
      for (size_t j = 0; j < m; j += size) {
        Complex8& even = y[k + j];
        Complex8& odd = y[k + j + mid];
        for (int l = 0; l < kLanes; l++) {
          float pr, pi, qr, qi;
          Multiply(first.real(), first.imag(), odd.re[l], odd.im[l], pr, pi);
          Multiply(second.real(), second.imag(), odd.re[l], odd.im[l], qr, qi);
          const float er = even.re[l], ei = even.im[l];
          even.re[l] = er + pr;
          even.im[l] = ei + pi;
          odd.re[l] = er + qr;
          odd.im[l] = ei + qi;
        }
      }
    }
  }
  if (inverse) {
    const float size = static_cast<float>(m);
    for (size_t i = 0; i < m; i++) {
      for (int l = 0; l < kLanes; l++) {
        y[i].re[l] = y[i].re[l] / size;
        y[i].im[l] = y[i].im[l] / size;
      }
    }
  }
}

struct StftJob {
  const StftPlan* plan;
  const float* signal;
  float* y;
  int64_t length, step, frames, batches, blocks;  // blocks: of kLanes frames, per batch
};

void RunStft(void* data, size_t task) {
  const StftJob& job = *static_cast<const StftJob*>(data);
  const StftPlan& plan = *job.plan;
  const int64_t batch = static_cast<int64_t>(task) / job.blocks;
  const int64_t first = (static_cast<int64_t>(task) % job.blocks) * kLanes;
  const int lanes = static_cast<int>(std::min<int64_t>(kLanes, job.frames - first));
  Complex8 a[kMaxTransform], b[kMaxTransform];  // on the stack: nothing here can throw
  for (size_t i = 0; i < plan.m; i++) {
    for (int l = 0; l < kLanes; l++) a[i].re[l] = a[i].im[l] = 0.f;
  }
  const float* signal = job.signal + batch * job.length;
  for (size_t k = 0; k < plan.n; k++) {
    const float w = plan.window[k];
    const std::complex<float> c = plan.chirp[k];
    for (int l = 0; l < kLanes; l++) {
      const float x = l < lanes ? signal[(first + l) * job.step + static_cast<int64_t>(k)] : 0.f;
      const float re = x * w, im = 0.f * w;
      Multiply(re, im, c.real(), c.imag(), a[k].re[l], a[k].im[l]);
    }
  }
  Radix2Lanes(plan, a, b, false);
  for (size_t i = 0; i < plan.m; i++) {
    const std::complex<float> s = plan.spectrum[i];
    for (int l = 0; l < kLanes; l++) {
      Multiply(b[i].re[l], b[i].im[l], s.real(), s.imag(), b[i].re[l], b[i].im[l]);
    }
  }
  Radix2Lanes(plan, b, a, true);
  float* out = job.y + (batch * job.frames + first) * static_cast<int64_t>(plan.bins) * 2;
  for (size_t i = 0; i < plan.bins; i++) {
    const Complex8& value = a[i == 0 ? 0 : plan.m - i];
    const std::complex<float> c = plan.chirp[i];
    for (int l = 0; l < lanes; l++) {
      float re, im;
      Multiply(value.re[l], value.im[l], c.real(), c.imag(), re, im);
      float* bin = out + (static_cast<int64_t>(l) * plan.bins + i) * 2;
      bin[0] = re * 1.f;
      bin[1] = im * 1.f;
    }
  }
}

struct StftKernel {
  StftKernel(const OrtApi&, const OrtKernelInfo* info) {
    if (Ort::ConstKernelInfo(info).GetAttribute<int64_t>("onesided") != 1) {
      ORT_CXX_API_THROW("BluesteinSTFT: onesided only", ORT_INVALID_ARGUMENT);
    }
  }

  void Compute(OrtKernelContext* raw) {
    Ort::KernelContext context(raw);
    Ort::ConstValue signal = context.GetInput(0);
    Ort::ConstValue step_value = context.GetInput(1);
    Ort::ConstValue window = context.GetInput(2);
    const std::vector<int64_t> shape = signal.GetTensorTypeAndShapeInfo().GetShape();
    const std::vector<int64_t> window_shape = window.GetTensorTypeAndShapeInfo().GetShape();
    if (!(shape.size() == 2 || (shape.size() == 3 && shape[2] == 1)) || window_shape.size() != 1) {
      ORT_CXX_API_THROW("BluesteinSTFT: a real signal and a window", ORT_INVALID_ARGUMENT);
    }
    const int64_t n = window_shape[0], length = shape[1];
    const int64_t step = step_value.GetTensorData<int64_t>()[0];
    if (n < 2 || (n & (n - 1)) == 0 || n > length || step <= 0 ||
        static_cast<size_t>(2 * n - 1) > kMaxTransform) {
      ORT_CXX_API_THROW("BluesteinSTFT: a window of 3 to 128 points, not a power of two",
                        ORT_INVALID_ARGUMENT);
    }
    // A few microseconds: made for each run, so that runs at once share nothing.
    const StftPlan plan = MakePlan(static_cast<size_t>(n), window.GetTensorData<float>());
    const int64_t frames =
        static_cast<int64_t>(std::floor((length - n) / static_cast<float>(step))) + 1;
    Ort::UnownedValue y = context.GetOutput(
        0, std::vector<int64_t>{shape[0], frames, static_cast<int64_t>(plan.bins), 2});
    StftJob job{&plan, signal.GetTensorData<float>(), y.GetTensorMutableData<float>(),
                length, step, frames, shape[0], (frames + kLanes - 1) / kLanes};
    if (shape[0] > 0 && frames > 0) {
      context.ParallelFor(RunStft, static_cast<size_t>(shape[0] * job.blocks), 0, &job);
    }
  }
};

struct StftOp : Ort::CustomOpBase<StftOp, StftKernel> {
  void* CreateKernel(const OrtApi& api, const OrtKernelInfo* info) const {
    return new StftKernel(api, info);
  }
  const char* GetName() const { return "BluesteinSTFT"; }
  size_t GetInputTypeCount() const { return 3; }
  ONNXTensorElementDataType GetInputType(size_t index) const {
    return index == 1 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  }
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
    made->Add(new SnakeOp<0>());
    made->Add(new SnakeOp<3>());
    made->Add(new SnakeOp<4>());
    made->Add(new VarianceOp());
    made->Add(new EpilogueOp<false, false>());
    made->Add(new EpilogueOp<true, false>());
    made->Add(new PadOp());
    made->Add(new ColumnsOp());
    made->Add(new EpilogueOp<false, true>());
    made->Add(new EpilogueOp<true, true>());
    made->Add(new StftOp());
    return made;
  }();
  try {
    Ort::UnownedSessionOptions(options).Add(*domain);
  } catch (const Ort::Exception& err) {
    return api->CreateStatus(ORT_FAIL, err.what());
  }
  return nullptr;
}
