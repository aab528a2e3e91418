# Sourced by the GPU scripts: unpacks BUNDLE_DIR/bundle.tar.xz (from
# bench/make_gpu_bundle.sh) into $tb and points the loader, Open MPI and
# the tests at it. Usage: . bench/gpu_env.sh BUNDLE_DIR
bundle_dir=$1
tb=/tmp/trident-bundle
rm -rf "$tb"; mkdir -p "$tb"
xz -dc "$bundle_dir/bundle.tar.xz" | tar -C "$tb" -xf - --strip-components=1
# The machine's own cuBLASLt and NCCL (the CUDA image's, or PyTorch's wheels).
cublas_dir=$(dirname "$(find /usr/local/cuda* /opt /usr/lib -name 'libcublasLt.so.13' 2>/dev/null | head -1)")
nccl_dir=$(dirname "$(find /usr/local/cuda* /opt /usr/lib -name 'libnccl.so.2' 2>/dev/null | head -1)")
export LD_LIBRARY_PATH=$tb/lib:$cublas_dir:$nccl_dir:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
# Debian's Open MPI, relocated into the bundle.
export OPAL_PREFIX=$tb/mpi PMIX_INSTALL_PREFIX=$tb/mpi PATH=$tb/mpi/bin:$PATH
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader OMPI_MCA_pml=ob1
export TRIDENT_FORTUNES=$tb/fortunes
# The benchmark shapes, seq 1024 in bf16: GPT-2 124M at batch 16 and a 1.3B GPT (24 × 2048) at batch 8.
GPT_124M="--num-layers 12 --hidden-size 768 --num-attention-heads 12 --seq-length 1024 --vocab-size 50304 --micro-batch-size 16"
GPT_1P3B="--num-layers 24 --hidden-size 2048 --num-attention-heads 16 --seq-length 1024 --vocab-size 50304 --micro-batch-size 8"
