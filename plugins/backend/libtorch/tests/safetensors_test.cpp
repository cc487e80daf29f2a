// Round trip and malformed-file handling of the safetensors reader/writer (io/safetensors.hpp).
#include "io/safetensors.hpp"

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "ftdr/sdk/error.hpp"

namespace fs = std::filesystem;
using ftdr::sdk::Error;
using ftdr::sdk::ErrorKind;
using ftdr::torchbe::SafeTensorsFile;

namespace {

class SafeTensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ftdr_safetensors_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes 8-byte length + header text + `data` bytes, as a (possibly broken) safetensors file.
  fs::path write_raw(const std::string& name, const std::string& header, const std::string& data,
                     int64_t header_len_override = -1) {
    fs::path p = dir_ / name;
    std::ofstream out(p, std::ios::binary);
    uint64_t len = header_len_override >= 0 ? static_cast<uint64_t>(header_len_override) : header.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((len >> (8 * i)) & 0xff));
    out << header << data;
    return p;
  }

  // Expects open() to fail with model_error naming the file and every string in `mentions`.
  void expect_model_error(const fs::path& p, std::initializer_list<std::string> mentions) {
    try {
      SafeTensorsFile::open(p);
      FAIL() << "opened a malformed file " << p;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::model_error);
      const std::string msg = e.what();
      EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
      for (const auto& m : mentions)
        EXPECT_NE(msg.find(m), std::string::npos) << "missing '" << m << "' in: " << msg;
    }
  }

  fs::path dir_;
};

TEST_F(SafeTensorsTest, RoundTripAllSupportedDtypes) {
  auto f32 = at::randn({3, 5});
  auto i64 = at::arange(7, at::kLong).reshape({7, 1});
  auto f16 = at::randn({4}).to(at::kHalf);
  auto bf16 = at::randn({2, 2}).to(at::kBFloat16);
  auto empty = at::zeros({0, 3});
  fs::path p = dir_ / "rt.safetensors";
  ftdr::torchbe::save_safetensors(p, {{"w", f32}, {"ids", i64}, {"h", f16}, {"b", bf16}, {"e", empty}},
                                  {{"format", "pt"}, {"note", "x"}});
  auto file = SafeTensorsFile::open(p);
  EXPECT_EQ(file.keys(), (std::vector<std::string>{"b", "e", "h", "ids", "w"}));
  EXPECT_EQ(file.metadata().at("note"), "x");
  EXPECT_TRUE(at::equal(file.load("w"), f32));
  EXPECT_TRUE(at::equal(file.load("ids"), i64));
  EXPECT_TRUE(at::equal(file.load("h"), f16));
  EXPECT_TRUE(at::equal(file.load("b"), bf16));
  EXPECT_EQ(file.load("e").sizes(), empty.sizes());
  EXPECT_EQ(file.info("w").dtype, "F32");
  EXPECT_EQ(file.info("w").shape, (std::vector<int64_t>{3, 5}));
  // Conversion on load; the result owns its memory (the mapping may go away).
  at::Tensor as_half = file.load("w", at::kHalf);
  EXPECT_EQ(as_half.scalar_type(), at::kHalf);
  EXPECT_TRUE(at::allclose(as_half.to(at::kFloat), f32, 1e-2, 1e-2));
  at::Tensor kept;
  {
    auto scoped = SafeTensorsFile::open(p);
    kept = scoped.load("w");
  }
  EXPECT_TRUE(at::equal(kept, f32));
  // The header is padded to a multiple of 8 so tensors stay aligned.
  std::ifstream in(p, std::ios::binary);
  uint64_t len = 0;
  in.read(reinterpret_cast<char*>(&len), 8);
  EXPECT_EQ(len % 8, 0u);
}

TEST_F(SafeTensorsTest, MissingKeyNamesFileAndKey) {
  fs::path p = dir_ / "one.safetensors";
  ftdr::torchbe::save_safetensors(p, {{"a", at::zeros({1})}});
  auto file = SafeTensorsFile::open(p);
  try {
    file.load("nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::model_error);
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos);
  }
}

TEST_F(SafeTensorsTest, MissingFile) { expect_model_error(dir_ / "absent.safetensors", {"cannot open"}); }

TEST_F(SafeTensorsTest, TruncatedBeforeHeaderLength) {
  fs::path p = dir_ / "short.safetensors";
  std::ofstream(p, std::ios::binary) << "abc";
  expect_model_error(p, {"truncated"});
}

TEST_F(SafeTensorsTest, HeaderLengthPastEnd) {
  expect_model_error(write_raw("long.safetensors", "{}", "", 1000), {"header length 1000"});
}

TEST_F(SafeTensorsTest, BadJson) {
  expect_model_error(write_raw("json.safetensors", "{\"a\": [1, 2", ""), {"not valid JSON"});
}

TEST_F(SafeTensorsTest, UnknownDtype) {
  std::string h = R"({"weird.weight":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}})";
  expect_model_error(write_raw("dtype.safetensors", h, std::string(4, '\0')), {"weird.weight", "F12"});
}

TEST_F(SafeTensorsTest, OffsetsOutOfRange) {
  std::string h = R"({"big.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  expect_model_error(write_raw("range.safetensors", h, std::string(8, '\0')), {"big.weight", "out of range"});
}

TEST_F(SafeTensorsTest, OffsetsOverlap) {
  std::string h = R"({"a.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b.weight":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  expect_model_error(write_raw("overlap.safetensors", h, std::string(12, '\0')),
                     {"b.weight", "overlaps", "a.weight"});
}

TEST_F(SafeTensorsTest, ShapeTimesDtypeDiffersFromByteLength) {
  std::string h = R"({"conv.weight":{"dtype":"F16","shape":[3,3],"data_offsets":[0,16]}})";
  expect_model_error(write_raw("size.safetensors", h, std::string(16, '\0')),
                     {"conv.weight", "[3, 3]", "18 bytes"});
}

TEST_F(SafeTensorsTest, UnloadableButValidDtypeIsRefusedOnLoad) {
  // U16 is a valid safetensors dtype that libtorch 1.13 has no type for.
  std::string h = R"({"mask":{"dtype":"U16","shape":[4],"data_offsets":[0,8]}})";
  fs::path p = write_raw("u16.safetensors", h, std::string(8, '\0'));
  auto file = SafeTensorsFile::open(p);
  EXPECT_THROW(file.load("mask"), Error);
}

}  // namespace
