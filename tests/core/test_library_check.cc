// check_call / TRIDENT_LIB_CHECK (framework/core/error.h) instantiated for
// a fake C library: an ok status passes through untouched, a failing one
// throws trident::Error naming the rank, the library, the call as written,
// the context and the library's own message, and the context is evaluated
// only on failure.
#include <gtest/gtest.h>

#include <string>

#include "framework/core/error.h"

namespace trident {
namespace {

// A C-style library: negative codes are errors, other values are results (ids).
struct FakeLib {
  using Status = long;
  static constexpr const char* name = "FakeLib";
  static bool ok(Status s) { return s >= 0; }
  static std::string message(Status s) { return "fake error " + std::to_string(s); }
};

long fake_call(long result) { return result; }

std::string failure_of(const auto& run) {
  try {
    run();
  } catch (const UsageError&) {
    return "UsageError";  // a library failure is not the user's fault
  } catch (const Error& e) {
    return e.what();
  }
  return "no exception";
}

TEST(LibraryCheck, OkStatusPassesThroughWithoutEvaluatingTheContext) {
  int context_calls = 0;
  auto context = [&] {
    ++context_calls;
    return std::string("context");
  };
  EXPECT_EQ(TRIDENT_LIB_CHECK(FakeLib, fake_call(0)), 0);
  EXPECT_EQ(TRIDENT_LIB_CHECK(FakeLib, fake_call(42), "opening ", context()), 42);  // an id comes back
  EXPECT_EQ(check_call<FakeLib>(7, "seven", __FILE__, __LINE__), 7);
  EXPECT_EQ(context_calls, 0);
}

TEST(LibraryCheck, FailureNamesLibraryCallMessageAndPlace) {
  set_error_rank(3);
  const int line = __LINE__ + 1;
  const std::string what = failure_of([] { TRIDENT_LIB_CHECK(FakeLib, fake_call(-5)); });
  set_error_rank(0);
  EXPECT_NE(what.find("[rank 3]"), std::string::npos) << what;
  EXPECT_NE(what.find("test_library_check.cc:" + std::to_string(line)), std::string::npos) << what;
  EXPECT_NE(what.find("FakeLib"), std::string::npos) << what;
  EXPECT_NE(what.find("fake_call(-5)"), std::string::npos) << what;
  EXPECT_NE(what.find("fake error -5"), std::string::npos) << what;
}

TEST(LibraryCheck, FailureCarriesTheContext) {
  const std::string path = "shards/rank_00003.h5";
  const std::string what = failure_of([&] { TRIDENT_LIB_CHECK(FakeLib, fake_call(-1), "creating ", path, " #", 2); });
  EXPECT_NE(what.find("creating shards/rank_00003.h5 #2"), std::string::npos) << what;
  EXPECT_NE(what.find("fake error -1"), std::string::npos) << what;
}

}  // namespace
}  // namespace trident
