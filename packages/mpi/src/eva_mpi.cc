// Thin Open MPI binding for eva-tfjs: MPI_COMM_WORLD collectives on Float32Arrays.
// Blocking collectives run on the libuv thread pool (AsyncWorker) and resolve a Promise, so the
// JavaScript thread stays responsive (timers, watchdogs). Callers must keep at most one
// collective in flight, issued in the same order on every rank.
#include <dlfcn.h>
#include <mpi.h>
#include <napi.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace {

bool initialized = false;

// Collective watchdog: a rank stuck in a collective longer than the timeout aborts the job.
std::atomic<int64_t> collective_started_ms{0};
std::atomic<int64_t> timeout_ms{0};
std::atomic<bool> watchdog_running{false};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void WatchdogLoop() {
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const int64_t limit = timeout_ms.load();
    const int64_t started = collective_started_ms.load();
    if (limit > 0 && started > 0 && NowMs() - started > limit) {
      int rank = -1;
      MPI_Comm_rank(MPI_COMM_WORLD, &rank);
      std::fprintf(stderr,
                   "eva-tfjs/mpi: rank %d waited more than %.1f s in a collective (another rank "
                   "failed or diverged); aborting the job\n",
                   rank, limit / 1000.0);
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 124);
    }
  }
}

// Marks the span of one collective for the watchdog.
struct CollectiveSpan {
  CollectiveSpan() { collective_started_ms.store(NowMs()); }
  ~CollectiveSpan() { collective_started_ms.store(0); }
};

std::string MpiError(int code, const char* what) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(what) + ": " + std::string(text, length);
}

bool RequireInit(const Napi::Env& env) {
  if (!initialized) {
    Napi::Error::New(env, "eva-tfjs/mpi: call init() first").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (initialized) return Napi::Boolean::New(env, true);
  // Open MPI's plugins expect libmpi's symbols to be global.
  dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  int provided = 0;
  int code = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  if (code != MPI_SUCCESS) {
    Napi::Error::New(env, MpiError(code, "MPI_Init_thread")).ThrowAsJavaScriptException();
    return env.Null();
  }
  if (provided < MPI_THREAD_SERIALIZED) {
    Napi::Error::New(env, "eva-tfjs/mpi: the MPI library does not support calls from worker threads")
        .ThrowAsJavaScriptException();
    return env.Null();
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  initialized = true;
  return Napi::Boolean::New(env, true);
}

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!initialized) return env.Undefined();
  int code = MPI_Finalize();
  initialized = false;
  if (code != MPI_SUCCESS) {
    Napi::Error::New(env, MpiError(code, "MPI_Finalize")).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

Napi::Value Rank(const Napi::CallbackInfo& info) {
  if (!RequireInit(info.Env())) return info.Env().Null();
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return Napi::Number::New(info.Env(), rank);
}

Napi::Value Size(const Napi::CallbackInfo& info) {
  if (!RequireInit(info.Env())) return info.Env().Null();
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return Napi::Number::New(info.Env(), size);
}

Napi::Value Abort(const Napi::CallbackInfo& info) {
  int code = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1;
  MPI_Abort(MPI_COMM_WORLD, code);
  return info.Env().Undefined();
}

enum class Kind { kAllreduceSum, kAllreduceAverage, kBroadcast, kBarrier };

// Runs one collective on the calling thread; returns the MPI code and names the call.
int RunCollective(Kind kind, float* data, size_t count, int root, const char** what) {
  CollectiveSpan span;
  int code = MPI_SUCCESS;
  switch (kind) {
    case Kind::kAllreduceSum:
    case Kind::kAllreduceAverage: {
      *what = "MPI_Allreduce";
      code = MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count), MPI_FLOAT, MPI_SUM,
                           MPI_COMM_WORLD);
      if (code == MPI_SUCCESS && kind == Kind::kAllreduceAverage) {
        int size = 1;
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        const float scale = 1.0f / static_cast<float>(size);
        for (size_t i = 0; i < count; i++) data[i] *= scale;
      }
      break;
    }
    case Kind::kBroadcast:
      *what = "MPI_Bcast";
      code = MPI_Bcast(data, static_cast<int>(count), MPI_FLOAT, root, MPI_COMM_WORLD);
      break;
    case Kind::kBarrier:
      *what = "MPI_Barrier";
      code = MPI_Barrier(MPI_COMM_WORLD);
      break;
  }
  return code;
}

// One blocking collective on the thread pool; resolves with the (same, modified) array.
class CollectiveWorker : public Napi::AsyncWorker {
 public:
  CollectiveWorker(Napi::Env env, Kind kind, Napi::Float32Array array, int root)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        kind_(kind),
        root_(root) {
    if (!array.IsEmpty()) {
      data_ = array.Data();
      count_ = array.ElementLength();
      array_ = Napi::Persistent(array);
    }
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    const char* what = "";
    const int code = RunCollective(kind_, data_, count_, root_, &what);
    if (code != MPI_SUCCESS) SetError(MpiError(code, what));
  }

  void OnOK() override {
    if (array_.IsEmpty()) {
      deferred_.Resolve(Env().Undefined());
    } else {
      deferred_.Resolve(array_.Value());
    }
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Kind kind_;
  int root_;
  float* data_ = nullptr;
  size_t count_ = 0;
  Napi::Reference<Napi::Float32Array> array_;
};

// Validates the arguments of a collective; returns false (with a pending exception) when bad.
bool CollectiveArguments(const Napi::CallbackInfo& info, Kind kind, Napi::Float32Array* array,
                         int* root) {
  Napi::Env env = info.Env();
  if (!RequireInit(env)) return false;
  if (kind != Kind::kBarrier) {
    if (info.Length() < 1 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      Napi::TypeError::New(env, "eva-tfjs/mpi: expected a Float32Array").ThrowAsJavaScriptException();
      return false;
    }
    *array = info[0].As<Napi::Float32Array>();
    if (array->ElementLength() > 2147483647u) {
      Napi::RangeError::New(env, "eva-tfjs/mpi: at most 2^31-1 elements per call")
          .ThrowAsJavaScriptException();
      return false;
    }
    if (kind == Kind::kBroadcast && info.Length() > 1 && info[1].IsNumber()) {
      *root = info[1].As<Napi::Number>().Int32Value();
    }
  }
  return true;
}

Napi::Value StartCollective(const Napi::CallbackInfo& info, Kind kind) {
  Napi::Env env = info.Env();
  Napi::Float32Array array;
  int root = 0;
  if (!CollectiveArguments(info, kind, &array, &root)) return env.Null();
  auto* worker = new CollectiveWorker(env, kind, array, root);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// The same collective on the JavaScript thread (for synchronous optimizer steps).
Napi::Value RunSync(const Napi::CallbackInfo& info, Kind kind) {
  Napi::Env env = info.Env();
  Napi::Float32Array array;
  int root = 0;
  if (!CollectiveArguments(info, kind, &array, &root)) return env.Null();
  const char* what = "";
  float* data = array.IsEmpty() ? nullptr : array.Data();
  const size_t count = array.IsEmpty() ? 0 : array.ElementLength();
  const int code = RunCollective(kind, data, count, root, &what);
  if (code != MPI_SUCCESS) {
    Napi::Error::New(env, MpiError(code, what)).ThrowAsJavaScriptException();
    return env.Null();
  }
  return array.IsEmpty() ? env.Undefined() : static_cast<Napi::Value>(array);
}

Napi::Value SetCollectiveTimeout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().DoubleValue() < 0) {
    Napi::TypeError::New(env, "eva-tfjs/mpi: setCollectiveTimeout expects seconds >= 0 (0: off)")
        .ThrowAsJavaScriptException();
    return env.Null();
  }
  timeout_ms.store(static_cast<int64_t>(info[0].As<Napi::Number>().DoubleValue() * 1000));
  bool expected = false;
  if (watchdog_running.compare_exchange_strong(expected, true)) std::thread(WatchdogLoop).detach();
  return env.Undefined();
}

Napi::Object Register(Napi::Env env, Napi::Object exports) {
  exports.Set("setCollectiveTimeout", Napi::Function::New(env, SetCollectiveTimeout));
  exports.Set("allreduceSumSync", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return RunSync(info, Kind::kAllreduceSum);
              }));
  exports.Set("allreduceAverageSync", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return RunSync(info, Kind::kAllreduceAverage);
              }));
  exports.Set("broadcastSync", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return RunSync(info, Kind::kBroadcast);
              }));
  exports.Set("barrierSync", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return RunSync(info, Kind::kBarrier);
              }));
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("finalize", Napi::Function::New(env, Finalize));
  exports.Set("rank", Napi::Function::New(env, Rank));
  exports.Set("size", Napi::Function::New(env, Size));
  exports.Set("abort", Napi::Function::New(env, Abort));
  exports.Set("allreduceSum", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return StartCollective(info, Kind::kAllreduceSum);
              }));
  exports.Set("allreduceAverage", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return StartCollective(info, Kind::kAllreduceAverage);
              }));
  exports.Set("broadcast", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return StartCollective(info, Kind::kBroadcast);
              }));
  exports.Set("barrier", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return StartCollective(info, Kind::kBarrier);
              }));
  return exports;
}

}  // namespace

NODE_API_MODULE(eva_mpi, Register)
