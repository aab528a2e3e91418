// GoogleTest main for tests run under mpirun: every rank runs every test;
// the job fails if any rank fails.
#include <gtest/gtest.h>

#include "framework/dist/world.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const trident::dist::World& world = trident::dist::World::init(&argc, &argv);
  if (world.rank != 0) {  // one copy of the progress output; failures still print on every rank
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int failed = RUN_ALL_TESTS();
  MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  trident::dist::World::finalize();
  return failed;
}
