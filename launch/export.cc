#include "launch/export.h"

#include <map>

#include "checkpoint/safetensors.h"
#include "framework/core/log.h"
#include "framework/parallel/gather.h"
#include "launch/hf_checkpoint.h"

namespace trident::launch {
namespace {

// A whole parameter and how many of its rows are real (Param::unpadded_rows).
struct Whole {
  Tensor tensor;
  int64_t unpadded_rows = -1;
};

// `mine` on pipeline rank `owner`, to every pipeline rank: a header first
// (dims, d0, d1, dtype, unpadded rows), then the values.
Whole broadcast_from_stage(dist::Comm& pp, const Whole& mine, int owner, int my_rank) {
  Tensor header = Tensor::zeros({5}, DType::i32);
  int32_t* h = header.data<int32_t>();
  if (owner == my_rank) {
    h[0] = int32_t(mine.tensor.dim());
    for (int64_t d = 0; d < mine.tensor.dim(); ++d) h[1 + d] = int32_t(mine.tensor.size(d));
    h[3] = int32_t(mine.tensor.dtype());
    h[4] = int32_t(mine.unpadded_rows);
  }
  pp.broadcast(header, owner);
  Whole out = owner == my_rank ? mine
                               : Whole{Tensor::empty(h[0] == 1 ? Shape{h[1]} : Shape{h[1], h[2]}, DType(h[3])), h[4]};
  pp.broadcast(out.tensor, owner);
  return out;
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> full_parameters(TrainingParts& parts) {
  dist::ProcessGroups& g = *parts.groups;
  // This rank's parameters, TP shards gathered.
  std::map<std::string, Whole> mine;
  for (Param* p : parts.model->params())
    if (!p->tied_copy)
      mine[p->name] = {parallel::gather_tensor_parallel(*p, parallel::TpGroup{&g.tp()}), p->unpadded_rows};
  // Every parameter from the pipeline rank that owns it.
  const gpt::PipelineStages stages = parts.cfg.pipeline_stages();
  std::vector<std::pair<std::string, Tensor>> out;
  for (const std::string& name : gpt::parameter_names(parts.cfg.model)) {
    const int owner = gpt::pipeline_rank_of_parameter(name, stages), me = g.coord().pp;
    const Whole whole = stages.pp == 1 ? mine.at(name)
                                       : broadcast_from_stage(g.pp(), owner == me ? mine.at(name) : Whole{}, owner, me);
    const bool padded = whole.unpadded_rows >= 0 && whole.unpadded_rows < whole.tensor.size(0);
    out.emplace_back(name, padded ? whole.tensor.slice(0, whole.unpadded_rows).clone() : whole.tensor);
  }
  return out;
}

void export_safetensors(TrainingParts& parts, const std::string& path) {
  checkpoint::TensorMap tensors;
  for (auto& [name, t] : full_parameters(parts)) tensors.emplace(name, t);  // collective: every rank gathers
  if (parts.world->rank == 0) checkpoint::save_safetensors(path, tensors);
}

void export_hf(TrainingParts& parts, const std::string& dir) {
  checkpoint::TensorMap tensors;
  for (auto& [name, t] : full_parameters(parts)) tensors.emplace(name, t);  // collective: every rank gathers
  if (parts.world->rank != 0) return;
  // The end-of-document id is HF's bos/eos where the tokenizer has one (GPT-2's BPE); ids from a Megatron dataset
  // and bytes have none that trident knows.
  const int64_t eod = parts.tokenizes_text() ? parts.tokenizer->eod() : -1;
  write_hf_export(dir, parts.cfg.model, tensors, eod);
  spdlog::info("--export-hf: wrote {} ({}, {})", dir,
               hf_model_of(parts.cfg.model) == HfModel::llama ? "LlamaForCausalLM" : "GPT2LMHeadModel",
               dtype_name(parts.cfg.model.dtype));
}

}  // namespace trident::launch
