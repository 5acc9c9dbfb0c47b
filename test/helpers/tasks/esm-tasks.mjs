// An ESM tasks file with named exports.
export const tasks = {
  hello: {
    async run() {
      process.stdout.write('hello from esm\n');
      return 'hi';
    },
  },
};
export function due() {
  return [{ task: 'hello', key: 'once' }];
}
