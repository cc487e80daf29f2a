// A job's checkpoints and PNGs as blobs of the queue (see job_files.hpp).
#include "job_files.hpp"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iterator>

namespace ftdr::host::queue {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kCheckpointBlob = "checkpoint-t";

// N of "latents_i0_step<N>.ckpt"; nothing for any other name.
std::optional<int> first_sub_batch_step(const std::string& name) {
  const std::string head = "latents_i0_step", tail = ".ckpt";
  if (name.size() <= head.size() + tail.size() || name.rfind(head, 0) != 0 ||
      name.compare(name.size() - tail.size(), tail.size(), tail) != 0)
    return std::nullopt;
  const std::string digits = name.substr(head.size(), name.size() - head.size() - tail.size());
  if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoi(digits);
}

std::optional<std::string> read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  if (in.bad()) return std::nullopt;
  return bytes;
}

void write_file(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw sdk::Error(sdk::ErrorKind::internal, "cannot write " + file.string());
}

std::string token_tag(const sdk::Lease& lease) { return "t" + std::to_string(lease.token); }

}  // namespace

std::optional<LocalCheckpoint> newest_local_checkpoint(const fs::path& dir, int below) {
  std::optional<LocalCheckpoint> newest;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto step = first_sub_batch_step(it->path().filename().string());
    if (step && *step < below && (!newest || *step > newest->step))
      newest = LocalCheckpoint{*step, it->path()};
  }
  return newest;
}

bool upload_checkpoint(sdk::JobQueue& queue, const sdk::Lease& lease, const LocalCheckpoint& checkpoint) {
  const auto bytes = read_file(checkpoint.file);
  if (!bytes) return false;
  queue.put_blob(lease.job.id, kCheckpointBlob + std::to_string(lease.token),
                 checkpoint.file.filename().string() + "\n" + *bytes);
  return true;
}

std::optional<StoredCheckpoint> newest_stored_checkpoint(const sdk::JobQueue& queue, std::uint64_t job_id) {
  std::optional<StoredCheckpoint> newest;
  for (const std::string& name : queue.blob_names(job_id)) {
    if (name.rfind(kCheckpointBlob, 0) != 0) continue;
    auto blob = queue.get_blob(job_id, name);
    const std::size_t eol = blob ? blob->find('\n') : std::string::npos;
    if (eol == std::string::npos) continue;  // emptied, or gone meanwhile
    StoredCheckpoint c;
    c.file_name = blob->substr(0, eol);
    const auto step = first_sub_batch_step(c.file_name);
    if (!step || (newest && *step <= newest->step)) continue;
    c.step = *step;
    c.bytes = blob->substr(eol + 1);
    c.blob = name;
    newest = std::move(c);
  }
  return newest;
}

fs::path restore_checkpoint(const StoredCheckpoint& checkpoint, const fs::path& state_dir,
                            const sdk::Lease& lease) {
  const fs::path dir =
      state_dir / "jobs" / ("queue-" + std::to_string(lease.job.id) + "-" + token_tag(lease));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw sdk::Error(sdk::ErrorKind::internal, "cannot create " + dir.string() + ": " + ec.message());
  write_file(dir / checkpoint.file_name, checkpoint.bytes);
  return dir;
}

void clear_checkpoints(sdk::JobQueue& queue, std::uint64_t job_id) {
  for (const std::string& name : queue.blob_names(job_id))
    if (name.rfind(kCheckpointBlob, 0) == 0) queue.put_blob(job_id, name, "");
}

json upload_images(sdk::JobQueue& queue, const sdk::Lease& lease, const json& images) {
  json names = json::array();
  for (const auto& image : images) {
    const fs::path file = image.get<std::string>();
    const auto bytes = read_file(file);
    if (!bytes) throw sdk::Error(sdk::ErrorKind::internal, "cannot read " + file.string());
    const std::string name = token_tag(lease) + "-" + file.filename().string();
    try {
      queue.put_blob(lease.job.id, name, *bytes);
    } catch (const sdk::Error& e) {
      throw sdk::Error(
          e.kind(), file.string() + " cannot be kept in the queue ([queue] files = \"queue\"): " + e.what());
    }
    names.push_back(name);
  }
  return names;
}

bool fetch_image(const sdk::JobQueue& queue, std::uint64_t job_id, const std::string& name,
                 const fs::path& file) {
  const auto bytes = queue.get_blob(job_id, name);
  if (!bytes) return false;
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  // Beside the file, unique to this call: a reader never sees half an image.
  static std::atomic<std::uint64_t> calls{0};
  const fs::path partial =
      file.string() + ".part" + std::to_string(::getpid()) + "-" + std::to_string(++calls);
  write_file(partial, *bytes);
  fs::rename(partial, file, ec);
  if (ec) throw sdk::Error(sdk::ErrorKind::internal, "cannot write " + file.string() + ": " + ec.message());
  return true;
}

}  // namespace ftdr::host::queue
