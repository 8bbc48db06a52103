// A uniquely named temporary directory, removed with everything in it on destruction.
#ifndef WEIGHTPRINT_TESTS_TESTING_TEMP_DIR_H_
#define WEIGHTPRINT_TESTS_TESTING_TEMP_DIR_H_

#include <string>

namespace weightprint::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace weightprint::testing

#endif  // WEIGHTPRINT_TESTS_TESTING_TEMP_DIR_H_
