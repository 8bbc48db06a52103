// Content detection of the TensorFlow-family formats (indexer/formats/model_format.h): Keras .h5
// (at offset 0 and after a user block), .keras archives and TF.js model.json are recognised under
// their own names, no extension and a misleading one, and never steal another format's files.
#include <gtest/gtest.h>

#include <string>

#include "indexer/formats/model_format.h"
#include "indexer/model_reader.h"
#include "tests/formats/tf/tf_test_files.h"
#include "tests/testing/safetensors_builder.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::testing::tf {
namespace {

using indexer::DetectModelFormat;
using indexer::ModelFormat;

TEST(TfDetectionTest, KerasAndTfjsAreRecognisedByContent) {
  if (!SkipReason().empty()) GTEST_SKIP() << SkipReason();
  TempDir dir;
  struct Case {
    std::string source;  // under Dir()
    std::string own_name;
    ModelFormat format;
  };
  const Case cases[] = {
      {"keras2_full.h5", "model.h5", ModelFormat::kKeras},
      {"keras3.weights.h5", "model.weights.h5", ModelFormat::kKeras},
      {"model.keras", "model.keras", ModelFormat::kKeras},
      {"model_deflated.keras", "model.keras", ModelFormat::kKeras},
      {"tfjs_graph/model.json", "model.json", ModelFormat::kTfjs},
  };
  // The graph model's shard must sit next to whatever name its model.json gets.
  WriteFileBytes(dir.Join("weights.bin"), ReadFileBytes(Dir() + "/tfjs_graph/weights.bin"));
  for (const Case& c : cases) {
    const std::string bytes = ReadFileBytes(Dir() + "/" + c.source);
    for (const std::string& name : {c.own_name, std::string("blob-7f3a2c"),
                                    std::string("misleading.safetensors"),
                                    std::string("misleading.onnx")}) {
      SCOPED_TRACE(c.source + " as " + name);
      const std::string path = dir.Join(name);
      WriteFileBytes(path, bytes);
      absl::StatusOr<ModelFormat> format = DetectModelFormat(path);
      ASSERT_TRUE(format.ok()) << format.status();
      EXPECT_EQ(*format, c.format);
      absl::StatusOr<std::unique_ptr<indexer::ModelReader>> reader = indexer::OpenModelFile(path);
      ASSERT_TRUE(reader.ok()) << reader.status();
      EXPECT_FALSE((*reader)->tensors().empty());
    }
  }
  // The HDF5 signature after a 512-byte user block is found outside the first bytes.
  const std::string h5 = ReadFileBytes(Dir() + "/keras2_full.h5");
  WriteFileBytes(dir.Join("user_block"), std::string(512, 'u') + h5);
  absl::StatusOr<ModelFormat> format = DetectModelFormat(dir.Join("user_block"));
  ASSERT_TRUE(format.ok()) << format.status();
  EXPECT_EQ(*format, ModelFormat::kKeras);
}

TEST(TfDetectionTest, OtherFormatsNamedLikeKerasStayThemselves) {
  TempDir dir;
  SafetensorsBuilder st;
  st.Add("w", "F32", {2}, FloatBytes({1, 2}));
  WriteFileBytes(dir.Join("model.h5"), st.Build());
  absl::StatusOr<ModelFormat> format = DetectModelFormat(dir.Join("model.h5"));
  ASSERT_TRUE(format.ok()) << format.status();
  EXPECT_EQ(*format, ModelFormat::kSafetensors);
  // A config.json is JSON but no TF.js model.
  WriteFileBytes(dir.Join("config.json"), R"({"architectures": ["LlamaForCausalLM"]})");
  EXPECT_FALSE(DetectModelFormat(dir.Join("config.json")).ok());
  // A damaged .h5 goes to the Keras reader, which says what is wrong.
  WriteFileBytes(dir.Join("broken.h5"), "not an hdf5 file at all");
  absl::StatusOr<std::unique_ptr<indexer::ModelReader>> reader =
      indexer::OpenModelFile(dir.Join("broken.h5"));
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find("HDF5 signature"), std::string::npos)
      << reader.status();
}

}  // namespace
}  // namespace weightprint::testing::tf
