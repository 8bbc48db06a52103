// LibraryPool: every task submitted runs, as many at once as the pool has threads, queued
// tasks still run when the pool is destroyed, and one thread runs them in submission order.
#include "registry/service/grpc/library_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace weightprint::registry::grpc_edge {
namespace {

using namespace std::chrono_literals;

TEST(LibraryPoolTest, RunsEveryTask) {
  std::atomic<int> ran{0};
  {
    LibraryPool pool(3);
    EXPECT_EQ(pool.threads(), 3u);
    for (int i = 0; i < 1000; ++i) pool.Submit([&] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 1000);
}

TEST(LibraryPoolTest, RunsAsManyTasksAtOnceAsItHasThreads) {
  // Each task waits until all four are running; with fewer than four threads at work they
  // would give up after the bounded wait and report it.
  constexpr int kThreads = 4;
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
  std::atomic<int> met{0};
  {
    LibraryPool pool(kThreads);
    for (int i = 0; i < kThreads; ++i) {
      pool.Submit([&] {
        std::unique_lock lock(mu);
        ++running;
        cv.notify_all();
        if (cv.wait_for(lock, 10s, [&] { return running == kThreads; })) met.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(met.load(), kThreads);
}

TEST(LibraryPoolTest, OneThreadRunsTasksInSubmissionOrderAndDrainsOnDestruction) {
  std::vector<int> order;  // only the pool's one thread writes it
  // The first task waits for `release`, which another thread sets a little after the pool's
  // destructor has (almost always) begun: the other 49 are then still queued, and must run.
  std::atomic<bool> release{false};
  std::thread releaser([&] {
    std::this_thread::sleep_for(100ms);
    release.store(true);
  });
  {
    LibraryPool pool(1);
    pool.Submit([&] {
      while (!release.load()) std::this_thread::sleep_for(1ms);
      order.push_back(0);
    });
    for (int i = 1; i < 50; ++i) pool.Submit([&order, i] { order.push_back(i); });
  }
  releaser.join();
  ASSERT_EQ(order.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(order[i], i);
}

TEST(LibraryPoolTest, ZeroThreadsMeansOne) {
  std::atomic<int> ran{0};
  {
    LibraryPool pool(0);
    EXPECT_EQ(pool.threads(), 1u);
    pool.Submit([&] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace weightprint::registry::grpc_edge
