#include "ferro/core/result.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace ferro {
namespace {

Result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return make_error(Errc::invalid_argument, "not a digit");
  return c - '0';
}

Result<int> sum_digits(const char* s) {
  int total = 0;
  for (; *s != '\0'; ++s) {
    FERRO_TRY_ASSIGN(int d, parse_digit(*s));
    total += d;
  }
  return total;
}

Status check_positive(int v) {
  if (v <= 0) return make_error(Errc::out_of_range, "must be positive");
  return ok();
}

Status check_both(int a, int b) {
  FERRO_TRY(check_positive(a));
  FERRO_TRY(check_positive(b));
  return ok();
}

TEST(Result, HoldsValueOrError) {
  auto good = parse_digit('7');
  ASSERT_TRUE(good);
  EXPECT_EQ(*good, 7);
  EXPECT_EQ(good.code(), Errc::ok);

  auto bad = parse_digit('x');
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.code(), Errc::invalid_argument);
  EXPECT_STREQ(bad.error().message, "not a digit");
  EXPECT_EQ(bad.value_or(-1), -1);
}

TEST(Result, TryPropagatesTheFirstError) {
  EXPECT_EQ(*sum_digits("1234"), 10);
  auto r = sum_digits("12a4");
  EXPECT_EQ(r.code(), Errc::invalid_argument);
  EXPECT_TRUE(check_both(1, 2));
  EXPECT_EQ(check_both(1, 0).code(), Errc::out_of_range);
  EXPECT_EQ(check_both(0, 0).error().message, std::string("must be positive"));
}

TEST(Result, OwnsMoveOnlyValuesAndDestroysThemOnce) {
  auto counter = std::make_shared<int>(0);
  {
    Result<std::shared_ptr<int>> r(counter);
    EXPECT_EQ(counter.use_count(), 2);
    Result<std::shared_ptr<int>> moved(std::move(r));
    EXPECT_EQ(counter.use_count(), 2);
    Result<std::shared_ptr<int>> copy = moved;
    EXPECT_EQ(counter.use_count(), 3);
    copy = make_error(Errc::busy, "gone");
    EXPECT_EQ(counter.use_count(), 2);
  }
  EXPECT_EQ(counter.use_count(), 1);

  Result<std::unique_ptr<int>> u(std::make_unique<int>(5));
  std::unique_ptr<int> taken = std::move(u).value();
  EXPECT_EQ(*taken, 5);
}

TEST(Result, ErrorNamesAreStable) {
  EXPECT_STREQ(errc_name(Errc::no_space), "no_space");
  EXPECT_STREQ(errc_name(Errc::power_loss), "power_loss");
  EXPECT_STREQ(errc_name(Errc::corrupt), "corrupt");
}

TEST(ResultDeathTest, ValueOfAnErrorPanics) {
  auto bad = parse_digit('x');
  EXPECT_DEATH((void)bad.value(), "Result::value\\(\\) on an error");
}

}  // namespace
}  // namespace ferro
