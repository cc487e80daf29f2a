// A1111's emphasis syntax (tokenizer/prompt_weights.hpp): exact (text, weight) runs. The expected
// weights are the doubles Python computes (A1111's docstring examples, and the other cases run
// through scripts/reference/a1111_prompts.py parse_attention, which is checked against them).
#include "tokenizer/prompt_weights.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {

void PrintTo(const PromptRun& r, std::ostream* out) {
  char w[32];
  std::snprintf(w, sizeof w, "%.17g", r.weight);
  *out << "{\"" << r.text << "\", " << w << "}";
}

namespace {

using Runs = std::vector<PromptRun>;

Runs parse(const std::string& text) { return parse_prompt_attention(text, "prompt"); }

sdk::Error parse_error(const std::string& text, const std::string& field = "prompt") {
  try {
    parse_prompt_attention(text, field);
  } catch (const sdk::Error& e) {
    return e;
  }
  return sdk::Error(sdk::ErrorKind::internal, "no error");
}

TEST(PromptWeights, A1111DocstringExamples) {
  EXPECT_EQ(parse("normal text"), (Runs{{"normal text", 1.0}}));
  EXPECT_EQ(parse("an (important) word"), (Runs{{"an ", 1.0}, {"important", 1.1}, {" word", 1.0}}));
  EXPECT_EQ(parse("(unbalanced"), (Runs{{"unbalanced", 1.1}}));
  EXPECT_EQ(parse("\\(literal\\]"), (Runs{{"(literal]", 1.0}}));
  EXPECT_EQ(parse("(unnecessary)(parens)"), (Runs{{"unnecessaryparens", 1.1}}));
  EXPECT_EQ(parse("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky)))."), (Runs{{"a ", 1.0},
                                                                                {"house", 1.5730000000000004},
                                                                                {" ", 1.1},
                                                                                {"on", 1.0},
                                                                                {" a ", 1.1},
                                                                                {"hill", 0.55},
                                                                                {", sun, ", 1.1},
                                                                                {"sky", 1.4641000000000006},
                                                                                {".", 1.1}}));
}

TEST(PromptWeights, NestingMultiplies) {
  EXPECT_EQ(parse("((a))"), (Runs{{"a", 1.2100000000000002}}));
  EXPECT_EQ(parse("[[a]]"), (Runs{{"a", 0.8264462809917354}}));
  EXPECT_EQ(parse("([a])"), (Runs{{"a", 1.0}}));
  EXPECT_EQ(parse("[(a)]"), (Runs{{"a", 1.0}}));
  EXPECT_EQ(parse("((a:2)"), (Runs{{"a", 2.2}})) << "the outer ( stays open: x1.1 at the end";
  EXPECT_EQ(parse("a (b:2) c)"), (Runs{{"a ", 1.0}, {"b", 2.0}, {" c)", 1.0}}));
}

TEST(PromptWeights, ExplicitWeights) {
  EXPECT_EQ(parse("(x:0)"), (Runs{{"x", 0.0}}));
  EXPECT_EQ(parse("(x:-1)"), (Runs{{"x", -1.0}}));
  EXPECT_EQ(parse("a (x:0) b"), (Runs{{"a ", 1.0}, {"x", 0.0}, {" b", 1.0}}));
  EXPECT_EQ(parse("(x: +1.5 )"), (Runs{{"x", 1.5}})) << "blanks and a sign around the number";
  EXPECT_EQ(parse("(a:1.)"), (Runs{{"a", 1.0}}));
  EXPECT_EQ(parse("(a:.5)"), (Runs{{"a", 0.5}}));
  EXPECT_EQ(parse("(a:0)(b:-0)"), (Runs{{"ab", 0.0}})) << "0.0 == -0.0: merged";
  EXPECT_EQ(parse("(a::1.5)"), (Runs{{"a:", 1.5}}));
  EXPECT_EQ(parse("(a:b)"), (Runs{{"a:b", 1.1}})) << "not a number: the colon is text";
}

TEST(PromptWeights, UnicodeDigitsAndBlanksAsPythonSeesThem) {
  EXPECT_EQ(parse("(a:\u0663)"), (Runs{{"a", 3.0}})) << "Arabic-Indic three";
  EXPECT_EQ(parse("(a:\uff11.\uff15)"), (Runs{{"a", 1.5}})) << "fullwidth digits";
  EXPECT_EQ(parse("(a:\u00a01.5\u3000)"), (Runs{{"a", 1.5}})) << "no-break and ideographic spaces";
}

TEST(PromptWeights, EscapesAndLoneBackslashes) {
  EXPECT_EQ(parse("\\(x\\)"), (Runs{{"(x)", 1.0}}));
  EXPECT_EQ(parse("a\\\\b"), (Runs{{"a\\b", 1.0}}));
  EXPECT_EQ(parse("a\\b"), (Runs{{"ab", 1.0}})) << "a lone backslash vanishes";
  EXPECT_EQ(parse("\\"), (Runs{{"", 1.0}}));
  EXPECT_EQ(parse("(a)\\ (b)"), (Runs{{"a", 1.1}, {" ", 1.0}, {"b", 1.1}}));
}

TEST(PromptWeights, UnbalancedBrackets) {
  EXPECT_EQ(parse("((a)"), (Runs{{"a", 1.2100000000000002}}));
  EXPECT_EQ(parse("(a [b"), (Runs{{"a ", 1.1}, {"b", 1.0}})) << "round ones first, then square ones";
  EXPECT_EQ(parse("(a:1.5"), (Runs{{"a:1.5", 1.1}})) << "no closing bracket: text, and the ( stays open";
  EXPECT_EQ(parse("a)"), (Runs{{"a)", 1.0}}));
  EXPECT_EQ(parse("a]"), (Runs{{"a]", 1.0}}));
  EXPECT_EQ(parse("a:1.2)"), (Runs{{"a:1.2)", 1.0}})) << "a weight without ( is text";
  EXPECT_EQ(parse("[a:2)"), (Runs{{"a:2)", 0.9090909090909091}}));
  EXPECT_EQ(parse("(a]b)"), (Runs{{"a]b", 1.1}}));
  EXPECT_EQ(parse("[a)b]"), (Runs{{"a)b", 0.9090909090909091}}));
}

TEST(PromptWeights, EmptyInputs) {
  EXPECT_EQ(parse(""), (Runs{{"", 1.0}}));
  EXPECT_EQ(parse("()"), (Runs{{"", 1.0}}));
  EXPECT_EQ(parse(":"), (Runs{{":", 1.0}}));
}

TEST(PromptWeights, BreakSeparatesOutsideBrackets) {
  const PromptRun brk{"BREAK", -1.0};
  EXPECT_EQ(parse("a BREAK b"), (Runs{{"a", 1.0}, brk, {"b", 1.0}}));
  EXPECT_EQ(parse("a\tBREAK\nb"), (Runs{{"a", 1.0}, brk, {"b", 1.0}}));
  EXPECT_EQ(parse("a BREAK"), (Runs{{"a", 1.0}, brk, {"", 1.0}}));
  EXPECT_EQ(parse("BREAK"), (Runs{{"", 1.0}, brk, {"", 1.0}}));
  EXPECT_EQ(parse(",BREAK,"), (Runs{{",", 1.0}, brk, {",", 1.0}}));
  EXPECT_EQ(parse("a  BREAK  BREAK b"), (Runs{{"a", 1.0}, brk, {"", 1.0}, brk, {"b", 1.0}}));
  EXPECT_TRUE(parse("a BREAK b")[1].is_break());
  for (const char* word : {"aBREAK b", "BREAKS", "_BREAK", "\u00e9BREAK", "1BREAK", "a break b"})
    EXPECT_EQ(parse(word), (Runs{{word, 1.0}})) << "not a whole word BREAK: " << word;
  const Runs inside = parse("(a BREAK b)");
  EXPECT_EQ(inside, (Runs{{"a", 1.1}, {"BREAK", -1.1}, {"b", 1.1}}));
  EXPECT_FALSE(inside[1].is_break()) << "inside brackets BREAK is the word, weighted -1.1 (as in A1111)";
}

TEST(PromptWeights, UnreadableWeightsAreRejectedNamingTheField) {
  const sdk::Error dots = parse_error("a (b:1.2.3) c");
  EXPECT_EQ(dots.kind(), sdk::ErrorKind::invalid_request);
  EXPECT_STREQ(dots.what(),
               "prompt: emphasis weight \"1.2.3\" is not a number (expected e.g. \"(word:1.3)\")");
  EXPECT_STREQ(parse_error("(x:.)", "negative_prompt").what(),
               "negative_prompt: emphasis weight \".\" is not a number (expected e.g. \"(word:1.3)\")");
  EXPECT_EQ(parse("a:1.2.3)"), (Runs{{"a:1.2.3)", 1.0}})) << "without ( the weight is never read";
}

TEST(PromptWeights, WeightsPastFloat32AreRejected) {
  const sdk::Error big = parse_error("(a:" + std::string(400, '9') + ")");
  EXPECT_EQ(big.kind(), sdk::ErrorKind::invalid_request);
  EXPECT_NE(std::string(big.what()).find("is too large (at most float32's"), std::string::npos) << big.what();
  const sdk::Error product = parse_error("((a:10000000000000000000000000):100000000000000000000)");
  EXPECT_EQ(product.kind(), sdk::ErrorKind::invalid_request);
  EXPECT_NE(std::string(product.what()).find("of \"a\" is too large"), std::string::npos) << product.what();
  EXPECT_EQ(parse("(a:0." + std::string(400, '0') + "1)"), (Runs{{"a", 0.0}})) << "below double: 0";
}

TEST(PromptWeights, DeepNestingIsParsed) {
  // 20,000 nested brackets, each closing over every run after it: A1111's quadratic worst case
  // (2e8 multiplications), a fraction of a second here. Weight 1 keeps the product finite.
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "(a";
  for (int i = 0; i < 20000; ++i) text += ":1)";
  EXPECT_EQ(parse(text), (Runs{{std::string(20000, 'a'), 1.0}}));
  EXPECT_EQ(parse_error(std::string(1000, '(') + "a").kind(), sdk::ErrorKind::invalid_request)
      << "1.1^1000 is past float32";
}

}  // namespace
}  // namespace ftdr::torchbe
