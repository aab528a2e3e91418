// The checkpoint read by a client we did not write (run with 4 ranks as
// tp 2 x pp 2): three iterations are trained and saved; rank 0 builds the
// whole model from the gathered parameters, computes the logits of a token
// batch, and has h5py_client.py (Debian's h5py and PyTorch) read index.h5
// and reproduce them.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <filesystem>

#include "checkpoint/safetensors.h"
#include "framework/core/rng.h"
#include "framework/dist/world.h"
#include "launch/export.h"
#include "launch/trainer.h"
#include "tests/support/small_configs.h"

namespace trident::launch {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

TEST(CheckpointClient, H5pyAndPyTorchReproduceOurLogits) {
  const dist::World& world = dist::World::init(nullptr, nullptr);
  // One directory for the job: rank 0's pid, broadcast.
  int pid = int(::getpid());
  MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("trident_h5py_" + std::to_string(pid));
  TrainConfig cfg = test::small_train_config(4, 32, 4, 16);
  cfg.tensor_model_parallel_size = 2;
  cfg.pipeline_model_parallel_size = 2;
  cfg.save = (dir / "ck").string();
  auto trainer = std::make_unique<Trainer>(cfg, world);
  trainer->train();
  const auto full = launch::full_parameters(trainer->parts());  // collective
  if (world.rank == 0) {
    gpt::GptConfig whole_cfg = trainer->config().model;
    gpt::GptModel whole(whole_cfg, cfg.seed);
    for (Param* p : whole.params())
      for (const auto& [name, t] : full)
        if (name == p->name) p->value.slice(0, t.size(0)).copy_from(t);
    const int64_t B = 2, T = 16;
    Tensor tokens = Tensor::empty({B, T}, DType::i32);
    const Philox rng(9, "client");
    for (int64_t i = 0; i < B * T; ++i) tokens.data<int32_t>()[i] = int32_t(rng.below(256, uint64_t(i)));
    auto be = backend::make_cpu_backend(1);
    const Tensor logits = whole.logits(*be, tokens);
    const std::string io = (dir / "io.safetensors").string();
    checkpoint::save_safetensors(io, {{"tokens", tokens}, {"logits", logits}});
    if (!std::filesystem::exists(kPython) ||
        std::system((std::string(kPython) + " -c 'import torch, h5py' 2>/dev/null").c_str()) != 0) {
      std::filesystem::remove_all(dir);
      GTEST_SKIP() << "Debian's python3-torch and python3-h5py are not installed";
    }
    const std::string cmd = std::string(kPython) + " " + TRIDENT_SOURCE_DIR + "/tests/checkpoint/h5py_client.py " +
                            (dir / "ck" / "iter_0000003" / "index.h5").string() + " " + io;
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::filesystem::remove_all(dir);
  }
  trainer.reset();
}

}  // namespace
}  // namespace trident::launch
